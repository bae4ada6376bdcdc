// One session-store contract, run against the cookie store and a real Redis:
// what goes in comes out, only for its realm, only from an untampered value,
// across a session.secret rotation; then what only the Redis store promises
// (an opaque ticket in the cookie, ciphertext in Redis under a hashed key, a
// TTL that follows lifetime and idle_timeout, destroy, fail-closed outage).
import t from 'tap';
import { parseConfigText } from '../../src/config/load.js';
import { createCookieStore } from '../../src/session/cookie-store.js';
import { createRedisShared, RECHECK_MS } from '../../src/session/redis/store.js';
import { deriveSealKeys } from '../../src/session/codec.js';
import { newSessionId, type SessionData } from '../../src/session/session.js';
import type { SessionStore, StoreRealm } from '../../src/session/store.js';
import { createLogger } from '../../src/observe/log.js';
import { Metrics } from '../../src/observe/metrics.js';
import { GatehouseError } from '../../src/errors.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { Redis } from 'ioredis';

const SECRET = 'contract-secret-0123456789abcdefghijklmnopqrstuv';
const OLD_SECRET = 'contract-old-secret-0123456789abcdefghijklmnop';
const realm = (name: string, secrets: string[] = [SECRET]): StoreRealm => ({ name, sealKeys: deriveSealKeys(secrets, `session:${name}`) });
const agent = realm('agent');
const user = realm('user');
const log = createLogger({ level: 'silent', format: 'json' });

function sampleSession(realmName = 'agent'): SessionData {
  const now = Date.now();
  return {
    v: 1,
    id: newSessionId(),
    realm: realmName,
    sub: 'user-alice',
    email: 'alice@example.com',
    name: 'Alice Agent',
    groups: ['helpdesk-agents'],
    sid: 'provider-sid-1',
    claims: { groups: ['helpdesk-agents'] },
    createdAt: now,
    seenAt: now,
    idToken: 'eyJhbGciOiJSUzI1NiJ9.secret-id-token-payload.sig',
    refreshToken: 'refresh-token-that-must-never-be-readable',
    tokensExpireAt: now + 3600_000,
  };
}

function yaml(redisUrl: string, store: 'redis' | 'cookie', idle = '1h', lifetime = '8h'): string {
  return `public_url: http://127.0.0.1:8080
upstream:
  url: http://127.0.0.1:9
session:
  secret: ${SECRET}
  store: ${store}
  redis_url: ${redisUrl}
  lifetime: ${lifetime}
  idle_timeout: ${idle}
realms:
  agent:
    paths: [/agent]
    callback_path: /agent/callback
    provider: { issuer: "http://127.0.0.1:9/", client_id: a, client_secret: "a-secret-0123456789abcdef" }
  user:
    paths: [/]
    callback_path: /callback
    provider: { issuer: "http://127.0.0.1:9/", client_id: u, client_secret: "u-secret-0123456789abcdef" }
`;
}

async function redisStore(server: RedisServer, idle = '1h', lifetime = '8h'): Promise<SessionStore> {
  const { config } = parseConfigText(yaml(server.url, 'redis', idle, lifetime), '(contract)', {});
  const shared = await createRedisShared(config, log, new Metrics({ processMetrics: false }));
  t.teardown(async () => {
    await shared.store.close();
    await shared.revocations.close();
  });
  return shared.store;
}

const redis = await startRedis();
t.teardown(() => redis.close());
const inspect = new Redis(redis.url, { maxRetriesPerRequest: 1 });
t.teardown(() => inspect.disconnect());

const stores: Array<[string, () => Promise<SessionStore>]> = [
  ['cookie', async () => createCookieStore()],
  ['redis', () => redisStore(redis)],
];

for (const [kind, make] of stores) {
  t.test(`${kind} store: the contract`, async (t) => {
    const store = await make();
    t.equal(store.kind, kind);
    t.equal(await store.ready(), true, 'ready');

    const session = sampleSession();
    const value = await store.save(agent, session, 8 * 3600_000);
    t.type(value, 'string');
    t.ok(value.length < 3500 * 8, 'fits the cookie chunks');
    t.same(await store.load(agent, value), session, 'what was saved loads back');

    t.equal(await store.load(user, value), null, "another realm's cookie is refused");
    t.equal(await store.load(agent, `${value.slice(0, -2)}${value.endsWith('AA') ? 'BB' : 'AA'}`), null, 'a tampered value is refused');
    t.equal(await store.load(agent, ''), null, 'empty');
    t.equal(await store.load(agent, 'garbage.value.here'), null, 'garbage');
    t.equal(await store.load(agent, 'x'.repeat(40_000)), null, 'oversized');

    // session.secret rotation: a value made under the old secret still opens while the old secret is listed second
    const before = realm('agent', [OLD_SECRET]);
    const oldValue = await store.save(before, sampleSession(), 8 * 3600_000);
    const rotated = realm('agent', [SECRET, OLD_SECRET]);
    t.ok(await store.load(rotated, oldValue), 'opens after rotation');
    t.equal(await store.load(agent, oldValue), null, 'and not once the old secret is removed');

    // a user-realm session never loads as an agent session, even saved by the same store
    const userValue = await store.save(user, sampleSession('user'), 8 * 3600_000);
    t.ok(await store.load(user, userValue));
    t.equal(await store.load(agent, userValue), null);

    // the recheck interval is what the session cache honours
    t.ok(store.recheckMs > 0, 'sessions may be cached');
  });
}

t.test('redis store: only an opaque ticket in the cookie, only ciphertext in Redis', async (t) => {
  const store = await redisStore(redis);
  await inspect.flushdb();
  const session = sampleSession();
  const value = await store.save(agent, session, 8 * 3600_000);
  t.match(value, /^r1\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}\.[A-Za-z0-9_-]{22}$/, 'r1.<id>.<secret>.<mac>');
  for (const secret of [session.sub, session.email!, session.refreshToken!, session.idToken!, session.id])
    t.notOk(value.includes(secret), 'the cookie names nothing of the session');

  const [, id] = value.split('.');
  const keys = await inspect.keys('gatehouse:session:*');
  t.equal(keys.length, 1, 'one key for one session');
  const key = keys[0]!;
  t.match(key, /^gatehouse:session:agent:[A-Za-z0-9_-]{43}$/, 'stored under gatehouse:session:<realm>:<hash of the id>');
  t.notOk(
    keys.some((k) => k.includes(id!)),
    'the key is a hash of the ticket id, not the id',
  );
  for (const k of keys) {
    const stored = (await inspect.get(k))!;
    t.match(stored, /^g1\./, 'sealed');
    for (const secret of [session.sub, session.email!, session.refreshToken!, session.idToken!, 'helpdesk-agents'])
      t.notOk(stored.includes(secret), 'nothing readable in Redis');
  }

  // the same session saved again keeps its ticket: the browser's cookie does not change on every touch
  t.equal(await store.save(agent, { ...session, seenAt: session.seenAt + 1000 }, 8 * 3600_000), value, 'same ticket on re-save');
  t.equal((await store.load(agent, value))?.seenAt, session.seenAt + 1000, 'the new version is what loads');

  // a forged ticket: right shape, wrong MAC
  const forged = `r1.${id}.${'A'.repeat(43)}.${value.split('.')[3]}`;
  t.equal(await store.load(agent, forged), null, 'a ticket with a forged secret is refused');

  await store.destroy(agent, value, session);
  t.equal(await store.load(agent, value), null, 'destroyed');
  t.equal(await inspect.exists(key), 0, 'the key is gone');
});

t.test('redis store: the TTL follows lifetime and idle_timeout', async (t) => {
  const store = await redisStore(redis, '30m', '8h');
  await inspect.flushdb();
  await store.save(agent, sampleSession(), 8 * 3600_000);
  const [key] = await inspect.keys('gatehouse:session:*');
  const ttl = await inspect.pttl(key!);
  t.ok(ttl > 29 * 60_000 && ttl <= 30 * 60_000, `idle_timeout bounds it (${ttl} ms)`);
  await inspect.flushdb();
  await store.save(agent, sampleSession(), 5 * 60_000);
  const [short] = await inspect.keys('gatehouse:session:*');
  const left = await inspect.pttl(short!);
  t.ok(left > 4 * 60_000 && left <= 5 * 60_000, `the lifetime left bounds it (${left} ms)`);
});

t.test('redis store: Redis down → GH_SESSION_STORE_UNAVAILABLE and not ready; back → works again by itself', async (t) => {
  const store = await redisStore(redis);
  const session = sampleSession();
  const value = await store.save(agent, session, 8 * 3600_000);
  t.equal(store.recheckMs, RECHECK_MS);

  await redis.stop();
  const started = Date.now();
  const error = await store.load(agent, value).then(
    () => null,
    (e: unknown) => e,
  );
  t.type(error, GatehouseError);
  t.equal((error as GatehouseError).code, 'GH_SESSION_STORE_UNAVAILABLE');
  t.equal((error as GatehouseError).status, 503);
  t.ok(Date.now() - started < 1500, 'fails fast, does not wait for Redis');
  t.equal(await store.ready(), false, 'not ready');
  t.equal(store.recheckMs, 0, 'cached sessions are not served while Redis is away');
  await t.rejects(store.save(agent, session, 1000), { code: 'GH_SESSION_STORE_UNAVAILABLE' });
  t.equal(await store.load(agent, 'r1.forged'), null, 'a malformed ticket is still just "signed out" (no Redis needed)');

  await redis.start();
  const until = Date.now() + 5000;
  while (!(await store.ready()) && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
  t.equal(await store.ready(), true, 'reconnected by itself');
  // Redis ran without persistence: the session is gone, a new one works
  t.equal(await store.load(agent, value), null, 'the old session did not survive a Redis without persistence');
  const fresh = await store.save(agent, sampleSession(), 8 * 3600_000);
  t.ok(await store.load(agent, fresh), 'new sessions work');
});

t.test('redis store: a Redis that hangs (SIGSTOP) fails within the command timeout', async (t) => {
  const store = await redisStore(redis);
  const value = await store.save(agent, sampleSession(), 8 * 3600_000);
  redis.pause();
  t.teardown(() => redis.resume());
  const started = Date.now();
  await t.rejects(store.load(agent, value), { code: 'GH_SESSION_STORE_UNAVAILABLE' });
  const took = Date.now() - started;
  t.ok(took < 2500, `answered in ${took} ms`);
  redis.resume();
  const until = Date.now() + 5000;
  let loaded: SessionData | null = null;
  while (Date.now() < until) {
    loaded = await store.load(agent, value).catch(() => null);
    if (loaded) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  t.ok(loaded, 'works again once Redis answers');
});
