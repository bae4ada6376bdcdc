/**
 * The revocation list shared by every gateway instance through Redis. The check
 * stays synchronous and in memory (it runs on every request): each instance
 * keeps the whole list in memory, loaded once at start and after every
 * reconnect (HGETALL of one hash), and kept current by publish/subscribe — an
 * instance that revokes writes the entry to the hash and publishes it in one
 * transaction, so every instance applies it within a network round trip.
 *
 * The hash is what makes revocations survive a gateway restart. If Redis itself
 * loses its data (restart without persistence), every running instance writes
 * back the entries it still holds on the next resync. A revocation made while
 * Redis is down takes effect on this instance at once, is written when Redis is
 * back, and the caller is told (GH_SESSION_STORE_UNAVAILABLE) so it can answer
 * honestly.
 */
import { GatehouseError } from '../../errors.js';
import type { Logger } from '../../observe/log.js';
import { KEY_PREFIX, type RedisLink } from './link.js';
import { MemoryRevocationList, type Revocation, type RevocationList } from '../revocation.js';
import { mergeRevocation, revocationKey } from '../revocation-entry.js';

export const REVOCATION_HASH = `${KEY_PREFIX}revocations`;
export const REVOCATION_CHANNEL = `${KEY_PREFIX}revocations`;
const RESYNC_RETRY_MS = 1000;
const RESUBSCRIBE_GRACE_MS = 500;
/** stale entries are removed from the hash this often (they are ignored anyway) */
const SWEEP_INTERVAL_MS = 10 * 60_000;
const MAX_PENDING = 10_000;
const KINDS = new Set<Revocation['kind']>(['session', 'subject', 'provider-session']);

/** A revocation read from Redis (another instance, or an operator's tool): only well-formed entries pass. */
export function parseRevocation(text: string): Revocation | null {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  if (value === null || typeof value !== 'object') return null;
  const e = value as Partial<Revocation>;
  if (!KINDS.has(e.kind as Revocation['kind']) || typeof e.realm !== 'string' || typeof e.value !== 'string' || e.value.length === 0) return null;
  if (typeof e.at !== 'number' || typeof e.until !== 'number' || !Number.isFinite(e.at) || !Number.isFinite(e.until)) return null;
  return { kind: e.kind!, realm: e.realm, value: e.value, at: e.at, until: e.until };
}

export function revocationField(entry: Revocation): string {
  return revocationKey(entry.kind, entry.realm, entry.value);
}

export class RedisRevocationList implements RevocationList {
  private readonly memory: MemoryRevocationList;
  /** what this instance knows, to write back entries Redis lost */
  private readonly known = new Map<string, Revocation>();
  private pending: Revocation[] = [];
  private resyncing: Promise<void> | null = null;
  private resyncAgain = false;
  private retryTimer: NodeJS.Timeout | null = null;
  private readonly sweepTimer: NodeJS.Timeout;
  private closed = false;

  constructor(
    private readonly link: RedisLink,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {
    this.memory = new MemoryRevocationList(now);
    this.sweepTimer = setInterval(() => void this.resync(), SWEEP_INTERVAL_MS);
    this.sweepTimer.unref();
  }

  /** Subscribe, then load: nothing published in between is missed. */
  async start(timeoutMs: number): Promise<void> {
    this.link.subscriber.on('message', (channel: string, message: string) => {
      if (channel !== REVOCATION_CHANNEL) return;
      const entry = parseRevocation(message);
      if (entry) this.remember(entry);
    });
    // after a reconnect the subscription is renewed asynchronously: load again shortly after, so nothing published in between is missed
    this.link.onReady(() => {
      void this.resync();
      setTimeout(() => void this.resync(), RESUBSCRIBE_GRACE_MS).unref();
    });
    const subscribed = this.link.subscriber.subscribe(REVOCATION_CHANNEL).then(
      () => true,
      () => false,
    );
    const inTime = await Promise.race([subscribed, new Promise<boolean>((r) => setTimeout(() => r(false), timeoutMs).unref())]);
    if (inTime && this.link.ready) await this.resync();
  }

  isRevoked(session: Parameters<RevocationList['isRevoked']>[0]): boolean {
    return this.memory.isRevoked(session);
  }

  async revoke(entry: Revocation): Promise<void> {
    this.remember(entry);
    try {
      await this.write(entry);
    } catch (error) {
      if (this.pending.length < MAX_PENDING) this.pending.push(entry);
      throw error instanceof GatehouseError ? error : this.link.unavailable('revocation not written', error);
    }
  }

  /** Entries currently in force on this instance (tests, diagnostics). */
  get size(): number {
    return this.memory.size;
  }

  private remember(entry: Revocation): void {
    this.memory.apply(entry);
    const field = revocationField(entry);
    this.known.set(field, mergeRevocation(this.known.get(field), entry));
  }

  /** One key (the hash) and a PUBLISH, which has none: one hash slot, so a Cluster takes it as one transaction. */
  private async write(entry: Revocation): Promise<void> {
    const json = JSON.stringify(entry);
    await this.link.run('revoke', async (c) => {
      const results = await c.multi().hset(REVOCATION_HASH, revocationField(entry), json).publish(REVOCATION_CHANNEL, json).exec();
      const failed = results?.find(([error]) => error);
      if (!results || failed) throw failed?.[0] ?? new Error('transaction aborted');
    });
  }

  /** Load everything (after start and every reconnect), write back what Redis lacks, drop what expired. */
  resync(): Promise<void> {
    if (this.closed) return Promise.resolve();
    if (this.resyncing) {
      this.resyncAgain = true;
      return this.resyncing;
    }
    this.resyncing = this.load()
      .catch((error: unknown) => {
        if (this.closed) return;
        const detail = error instanceof GatehouseError ? error.detail : (error as Error).message;
        this.log.warn({ code: 'GH_SESSION_STORE_UNAVAILABLE', detail }, 'cannot load the shared revocation list; retrying');
        if (!this.retryTimer) {
          this.retryTimer = setTimeout(() => {
            this.retryTimer = null;
            void this.resync();
          }, RESYNC_RETRY_MS);
          this.retryTimer.unref();
        }
      })
      .finally(() => {
        this.resyncing = null;
        if (this.resyncAgain && !this.closed) {
          this.resyncAgain = false;
          void this.resync();
        }
      });
    return this.resyncing;
  }

  private async load(): Promise<void> {
    const pending = this.pending;
    this.pending = [];
    for (const [i, entry] of pending.entries()) {
      try {
        await this.write(entry);
      } catch (error) {
        this.pending.push(...pending.slice(i));
        throw error;
      }
    }
    const stored = await this.link.run('load revocations', (c) => c.hgetall(REVOCATION_HASH));
    const now = this.now();
    const stale: string[] = [];
    for (const [field, text] of Object.entries(stored)) {
      const entry = parseRevocation(text);
      if (!entry || entry.until < now) stale.push(field);
      else this.remember(entry);
    }
    const missing: Revocation[] = [];
    for (const [field, entry] of this.known) {
      if (entry.until < now) this.known.delete(field);
      else if (stored[field] === undefined) missing.push(entry);
    }
    if (stale.length > 0) await this.link.run('sweep revocations', (c) => c.hdel(REVOCATION_HASH, ...stale));
    if (missing.length > 0) {
      // Redis lost them (a restart without persistence): put them back for the instances that start later
      await this.link.run('restore revocations', (c) =>
        c.hset(REVOCATION_HASH, Object.fromEntries(missing.map((e) => [revocationField(e), JSON.stringify(e)]))),
      );
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.sweepTimer);
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.link.close();
  }
}
