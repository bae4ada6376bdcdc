/**
 * The Redis session store, and the assembly of everything Redis-backed
 * (createRedisShared, called by server.ts when a Redis is configured: one
 * server, Sentinel or Cluster — config/redis-target.ts).
 *
 * The cookie holds only a ticket: `r1.<id>.<secret>.<mac>` — 16 random bytes
 * of id, 32 of secret, and an HMAC of both under a key derived from the
 * realm's session keys. The MAC makes the ticket integrity-protected and bound
 * to its realm: a forged or foreign ticket is refused without asking Redis.
 * Redis holds the session under a hash of the id, sealed (A256GCM) with a key
 * derived from the secret — which only the browser has: a copy of Redis alone
 * reads nothing and cannot forge a cookie (oauth2-proxy's ticket design).
 * The key expires with the session: its TTL is the lifetime left, cut to
 * idle_timeout, and renewed at each "last seen" write.
 *
 * Sessions are cached per cookie value for RECHECK_MS at most (then asked again);
 * ending a session "at once" on every instance is done by the revocation list's
 * publish/subscribe, which is checked on every request. Unless the link's
 * health is `up` (link.ts) the cache is bypassed, so while Redis is unreachable
 * every signed-in request answers 503 (fail closed) instead of serving from
 * memory.
 *
 * Cluster: every command here names one key, so each is in one hash slot by
 * construction; the revocation transaction (revocation.ts) is one hash and a
 * PUBLISH, which has no key.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { GatewayConfig } from '../../config/types.js';
import { durationMs } from '../../config/duration.js';
import type { Logger } from '../../observe/log.js';
import { deriveSealKeys, open, seal, type SealKey } from '../codec.js';
import { isSessionData, type SessionData } from '../session.js';
import type { SessionStore, StoreRealm } from '../store.js';
import type { RevocationList } from '../revocation.js';
import type { SpentStates } from '../login-attempt.js';
import { TwoGenerationCache } from '../cache.js';
import { redisTarget } from '../../config/redis-target.js';
import { KEY_PREFIX, RedisLink } from './link.js';
import { RedisRevocationList } from './revocation.js';
import { RedisRefreshCoordination, RedisSpentStates } from './coordination.js';
import type { RefreshCoordination } from '../refresh.js';

/** a cached session is asked for again after this long (a backstop: revocations arrive by publish/subscribe) */
export const RECHECK_MS = 5000;
/** how long start-up waits for Redis before serving anyway (503 until it is there) */
const STARTUP_WAIT_MS = 2000;
const TICKET = /^r1\.([A-Za-z0-9_-]{22})\.([A-Za-z0-9_-]{43})\.([A-Za-z0-9_-]{22})$/;

interface Ticket {
  id: string;
  secret: string;
  value: string;
}

const macKeys = new WeakMap<SealKey, Buffer>();
/** A MAC key of its own per session key: the AES key itself is never used as an HMAC key. */
function macKeyOf(sealKey: SealKey): Buffer {
  let key = macKeys.get(sealKey);
  if (!key) {
    key = createHmac('sha256', sealKey.key).update('gatehouse/redis-ticket-mac/v1').digest();
    macKeys.set(sealKey, key);
  }
  return key;
}

function ticketMac(sealKey: SealKey, id: string, secret: string): Buffer {
  return createHmac('sha256', macKeyOf(sealKey)).update(`r1.${id}.${secret}`).digest().subarray(0, 16);
}

export function newTicket(realm: StoreRealm): Ticket {
  const id = randomBytes(16).toString('base64url');
  const secret = randomBytes(32).toString('base64url');
  const mac = ticketMac(realm.sealKeys[0]!, id, secret).toString('base64url');
  return { id, secret, value: `r1.${id}.${secret}.${mac}` };
}

/** The ticket in a cookie value, if it is well-formed and was made by this gateway for this realm. */
export function parseTicket(realm: StoreRealm, cookieValue: string): Ticket | null {
  const match = TICKET.exec(cookieValue);
  if (!match) return null;
  const [, id, secret, mac] = match as unknown as [string, string, string, string];
  const presented = Buffer.from(mac, 'base64url');
  if (presented.length !== 16) return null;
  // every key in rotation is tried, always all of them: the time taken says nothing about which matched
  let valid = false;
  for (const sealKey of realm.sealKeys) if (timingSafeEqual(presented, ticketMac(sealKey, id, secret))) valid = true;
  return valid ? { id, secret, value: cookieValue } : null;
}

function sessionKey(realm: string, id: string): string {
  return `${KEY_PREFIX}session:${realm}:${createHash('sha256').update(id).digest('base64url')}`;
}

function dataKeys(realm: string, secret: string): SealKey[] {
  return deriveSealKeys([secret], `redis-session:${realm}`);
}

export class RedisSessionStore implements SessionStore {
  readonly kind = 'redis' as const;
  /** session id → its ticket, so re-saving a session (touch, refresh) keeps the browser's cookie */
  private readonly tickets = new TwoGenerationCache<Ticket>(50_000);

  constructor(
    private readonly link: RedisLink,
    private readonly idleTimeoutMs: number,
  ) {}

  /** fail closed: the cache is trusted only while the link is up (see RedisHealth) */
  get recheckMs(): number {
    return this.link.health === 'up' ? RECHECK_MS : 0;
  }

  async load(realm: StoreRealm, cookieValue: string): Promise<SessionData | null> {
    const ticket = parseTicket(realm, cookieValue);
    if (!ticket) return null;
    const sealed = await this.link.run('load session', (c) => c.get(sessionKey(realm.name, ticket.id)));
    if (sealed === null) return null;
    const value = open<unknown>(sealed, dataKeys(realm.name, ticket.secret));
    if (!isSessionData(value, realm.name)) return null;
    this.tickets.set(`${realm.name}\u0000${value.id}`, ticket);
    return value;
  }

  async save(realm: StoreRealm, data: SessionData, lifetimeLeftMs: number): Promise<string> {
    const known = `${realm.name}\u0000${data.id}`;
    const ticket = this.tickets.get(known) ?? newTicket(realm);
    const sealed = seal(data, dataKeys(realm.name, ticket.secret));
    const ttlMs = Math.max(1000, Math.ceil(Math.min(lifetimeLeftMs, this.idleTimeoutMs)));
    await this.link.run('save session', (c) => c.set(sessionKey(realm.name, ticket.id), sealed, 'PX', ttlMs));
    this.tickets.set(known, ticket);
    return ticket.value;
  }

  async destroy(realm: StoreRealm, cookieValue: string, data: SessionData | null): Promise<void> {
    if (data) this.tickets.delete(`${realm.name}\u0000${data.id}`);
    const ticket = parseTicket(realm, cookieValue);
    if (ticket) await this.link.run('destroy session', (c) => c.del(sessionKey(realm.name, ticket.id)));
  }

  async ready(): Promise<boolean> {
    return this.link.ping();
  }

  async close(): Promise<void> {
    this.link.close();
  }
}

export interface RedisShared {
  /** with store: redis; with store: cookie the sessions stay in the cookie (server.ts) */
  store?: RedisSessionStore | undefined;
  revocations: RevocationList;
  spentStates: SpentStates;
  refreshCoordination: RefreshCoordination;
}

/**
 * Everything shared through Redis. With `store: redis` the sessions live there;
 * with `store: cookie` and a Redis, sessions stay in the cookie and Redis
 * shares what instances must agree on: revocations (back-channel logout, sign
 * out everywhere — surviving restarts), spent login states and logout-token
 * jti, and the refresh lock.
 */
export async function createRedisShared(config: GatewayConfig, log: Logger): Promise<RedisShared> {
  const target = redisTarget(config.session);
  if (!target) throw new Error('a Redis (session.redis_url, redis_sentinels or redis_cluster) is required for Redis-backed sessions');
  const link = new RedisLink(target, log);
  const connected = await link.waitReady(STARTUP_WAIT_MS);
  if (!connected)
    log.warn({ redis: link.where, code: 'GH_SESSION_STORE_UNAVAILABLE' }, 'redis is not reachable yet; signed-in requests answer 503 until it is');
  const revocations = new RedisRevocationList(link, log);
  await revocations.start(connected ? STARTUP_WAIT_MS : 0);
  const idleTimeoutMs = durationMs(config.session.idle_timeout);
  const store = config.session.store === 'redis' ? new RedisSessionStore(link, idleTimeoutMs) : undefined;
  return { store, revocations, spentStates: new RedisSpentStates(link), refreshCoordination: new RedisRefreshCoordination(link) };
}
