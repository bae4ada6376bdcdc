// The session cache holds one entry per live session, not one per cookie value
// seen (issue 6, the soak). With the cookie store a touch re-seals the cookie
// (new "last seen"), so a session has a new value every touch interval; the
// old value's entry is dropped at once. A request still carrying the old value
// is opened and judged on its own sealed data, then answered from the session's
// entry and handed that entry's value: no seal, no signature, nothing cached.
// Real parts: the demo provider, the gateway, an injected clock. The demo
// config: idle_timeout 1h, so the touch interval is 60 s.
import t from 'tap';
import { fetchWithJar, signIn } from '../helpers/browserless.js';
import { startRedis } from '../helpers/redis.js';
import { ALICE, NAVIGATION, setCookies, startTestStack, testClock, type TestStack } from '../helpers/stack.js';
import { refreshDueAt } from '../../src/session/refresh.js';
import { startGateway } from '../../src/server.js';
import { ALICE as CLUSTER_ALICE, startCluster } from '../sessions/fixtures/cluster.js';

const MINUTE = 60_000;
const XHR = { accept: 'application/json' };

function helpers(stack: TestStack) {
  const name = stack.cookieName('agent');
  return {
    /** one request carrying exactly this session cookie value (a client that keeps no jar) */
    call: (value: string, path = '/agent/api/whoami') => fetchWithJar(`${stack.publicUrl}${path}`, { headers: { ...XHR, cookie: `${name}=${value}` } }),
    /** the session value a response hands out, if any */
    handedOut: (headers: Record<string, string | string[]>): string | undefined => {
      const line = setCookies(headers).find((l) => l.startsWith(`${name}=`));
      return line === undefined ? undefined : line.slice(name.length + 1).split(';')[0];
    },
    /** the session cookie value a sign-in left in the jar */
    valueIn: (jar: { get(origin: string, name: string): string | undefined }) => jar.get(stack.publicUrl, name)!,
  };
}

t.test('after a touch the cache holds one entry; the old value still works and is handed the same successor', async (t) => {
  const clock = testClock();
  const stack = await startTestStack({ now: clock.now });
  t.teardown(() => stack.close());
  const { call, handedOut, valueIn } = helpers(stack);
  const { jar, final } = await stack.signIn('/agent/', ALICE);
  t.equal(final.status, 200);
  const v1 = valueIn(jar);
  t.equal((await call(v1)).status, 200);
  t.equal(stack.gw.cache.size, 1, 'one session, one entry');

  clock.advance(61_000); // past the touch interval
  const touch = await call(v1);
  t.equal(touch.status, 200);
  const v2 = handedOut(touch.headers);
  t.ok(v2, 'the touch re-seals the cookie');
  t.not(v2, v1);
  t.equal(stack.gw.cache.size, 1, 'still one entry: the old value was replaced, not kept beside its successor');
  t.equal(stack.gw.cache.get(v1), undefined, 'the old value is no longer cached');
  t.ok(stack.gw.cache.get(v2!), 'the successor is');

  // a request sent before the browser had v2, or a client that ignores Set-Cookie
  const assertionOf = () => stack.upstream.requests.at(-1)!.headers['x-auth-assertion'];
  const viaNew = await call(v2!, '/agent/api/tickets');
  t.equal(viaNew.status, 200);
  t.equal(handedOut(viaNew.headers), undefined, 'the successor itself: nothing to hand out');
  const assertion = assertionOf();
  for (const attempt of [1, 2]) {
    const straggler = await call(v1, '/agent/api/tickets');
    t.equal(straggler.status, 200, `old value, request ${attempt}: signed in`);
    t.equal(handedOut(straggler.headers), v2, `old value, request ${attempt}: handed the successor again (no new seal)`);
    t.equal(assertionOf(), assertion, `old value, request ${attempt}: the session's assertion (no new signature)`);
    t.equal(stack.upstream.requests.at(-1)!.headers['x-auth-subject'], 'user-alice');
  }
  t.equal(stack.gw.cache.size, 1, 'the old value was not cached again');
  t.equal(stack.gw.cache.get(v1), undefined);

  // a touch interval later the session's entry is due itself: the old value gets a new successor (one seal)
  clock.advance(61_000);
  const later = await call(v1);
  t.equal(later.status, 200);
  const v3 = handedOut(later.headers);
  t.ok(v3 && v3 !== v2 && v3 !== v1, 'sealed anew from the entry');
  t.equal(stack.gw.cache.size, 1);
  t.equal(stack.gw.cache.get(v2!), undefined, 'v2 replaced by v3');
  t.equal(handedOut((await call(v2!)).headers), v3, 'v2 (now due for a touch) is handed v3 as well');
});

t.test('an old value idle on its own data is signed out, however fresh its cached successor is', async (t) => {
  const clock = testClock();
  const stack = await startTestStack({ now: clock.now });
  t.teardown(() => stack.close());
  const { call, handedOut, valueIn } = helpers(stack);
  const { jar } = await stack.signIn('/agent/', ALICE);
  const v1 = valueIn(jar);
  t.equal((await call(v1)).status, 200);

  clock.advance(50 * MINUTE);
  const touch = await call(v1);
  t.equal(touch.status, 200, '50 min idle: fine');
  const v2 = handedOut(touch.headers)!;
  t.ok(v2, 'seenAt re-sealed 50 min after sign-in');

  clock.advance(11 * MINUTE); // v1 was last seen 61 min ago (idle_timeout 1h), v2 11 min ago
  const viaNew = await call(v2);
  t.equal(viaNew.status, 200, 'the successor is alive');
  const v3 = handedOut(viaNew.headers)!;
  t.ok(v3, 'and touched again');
  t.ok(stack.gw.cache.get(v3), 'the session is cached and fresh');

  const old = await call(v1);
  t.equal(old.status, 401, 'the old value is idle on its own "last seen": not revived by its sibling');
  t.equal(JSON.parse(old.body).error, 'GH_NOT_SIGNED_IN');
  t.equal(handedOut(old.headers), '', 'its cookie is cleared, not replaced by the successor');
  t.equal(stack.gw.cache.size, 1, 'nothing cached for it; the session entry untouched');
  t.equal((await call(v3)).status, 200, 'the live value still works');
});

t.test('a signed-out session is signed out under its old and its new value', async (t) => {
  const clock = testClock();
  const stack = await startTestStack({ now: clock.now });
  t.teardown(() => stack.close());
  const { call, handedOut, valueIn } = helpers(stack);
  const { jar } = await stack.signIn('/agent/', ALICE);
  const v1 = valueIn(jar);
  clock.advance(61_000);
  const touch = await fetchWithJar(`${stack.publicUrl}/agent/api/whoami`, { jar, headers: XHR });
  t.equal(touch.status, 200);
  const v2 = valueIn(jar);
  t.not(v2, v1, 'the jar took the successor');
  t.equal(handedOut((await call(v1)).headers), v2, 'before sign-out the old value is answered with the successor');

  const out = await fetchWithJar(`${stack.publicUrl}/agent/logout`, {
    jar,
    method: 'POST',
    body: '',
    headers: { ...NAVIGATION, 'content-type': 'application/x-www-form-urlencoded', origin: stack.publicUrl, 'sec-fetch-site': 'same-origin' },
  });
  t.equal(out.status, 303, 'signed out (with the new value)');
  for (const [label, value] of [
    ['new', v2],
    ['old', v1],
  ] as const) {
    const res = await call(value);
    t.equal(res.status, 401, `the ${label} value is revoked`);
    t.equal(JSON.parse(res.body).error, 'GH_NOT_SIGNED_IN');
    t.equal(handedOut(res.headers), '', `the ${label} value: cookie cleared, no successor handed out`);
  }
  t.equal(stack.gw.cache.size, 0, 'nothing of the session left in the cache');
});

t.test("two instances (or workers) each touch the same value: the successor the browser kept replaces the other's entry", async (t) => {
  // Each instance touches the value it is sent and seals its own successor; the browser keeps one of them.
  // Instance 1 is a second gateway with the same config (secret) and clock, as a second worker would be.
  const clock = testClock();
  const stack = await startTestStack({ now: clock.now });
  t.teardown(() => stack.close());
  const second = await startGateway({ config: stack.config, file: '(test config)', port: 0, host: '127.0.0.1', logger: stack.logs.logger, now: clock.now });
  t.teardown(() => second.close());
  const instances = [stack.gateway, second];
  const gw = (i: number) => instances[i]!.gw;
  const { handedOut, valueIn } = helpers(stack);
  // with the browser's host, as a load balancer in front of both keeps it (another host name is refused with 421)
  const host = new URL(stack.publicUrl).host;
  const call = (i: number, value: string) =>
    fetchWithJar(`${instances[i]!.url}/agent/api/whoami`, { headers: { ...XHR, host, cookie: `${stack.cookieName('agent')}=${value}` } });
  const { jar } = await stack.signIn('/agent/', ALICE);
  const v1 = valueIn(jar);
  t.equal((await call(0, v1)).status, 200);
  t.equal((await call(1, v1)).status, 200);

  clock.advance(61_000);
  const kept = handedOut((await call(1, v1)).headers)!; // instance 1 touches first: the browser keeps its answer
  clock.advance(5);
  const own = handedOut((await call(0, v1)).headers)!; // instance 0 touches v1 too, a moment later: its own is newer
  t.ok(kept && own && kept !== own, 'each instance sealed its own successor');
  t.equal(gw(0).cache.size, 1);

  const first = await call(0, kept);
  t.equal(first.status, 200);
  t.equal(handedOut(first.headers), undefined, "the browser's value is kept: no Set-Cookie, no ping-pong between instances");
  const entry = gw(0).cache.get(kept);
  t.ok(entry, 'instance 0 cached the value the browser kept, though its own successor is newer');
  t.equal(gw(0).cache.get(own), undefined, 'and dropped its own successor');
  t.equal(gw(0).cache.size, 1, 'one entry');
  t.equal((await call(0, kept)).status, 200);
  t.equal(gw(0).cache.get(kept), entry, 'then served from that entry: no open per request');
  t.equal(handedOut((await call(1, kept)).headers), undefined, 'instance 1 serves it as its own');
  t.equal(gw(1).cache.size, 1);
  t.equal(handedOut((await call(0, v1)).headers), kept, 'v1 (due for a touch) is handed the value the browser kept');
});

t.test('a value replaced by a token refresh is answered from the refreshed entry: handed its value, no second refresh', async (t) => {
  const clock = testClock();
  const cluster = await startCluster({ store: 'cookie', instances: 1, accessTokenTtlSeconds: 2, rotateRefreshTokens: true, now: clock.now });
  t.teardown(() => cluster.close());
  cluster.use(0);
  const gw = cluster.gateways[0]!.gw;
  const realm = gw.runtime.realms.get('agent')!;
  const call = (value: string) => fetchWithJar(`${cluster.publicUrl}/agent/api/whoami`, { headers: { ...XHR, cookie: `gatehouse-agent=${value}` } });
  const handedOut = (res: { headers: Record<string, string | string[]> }) =>
    setCookies(res.headers)
      .find((l) => l.startsWith('gatehouse-agent='))
      ?.slice('gatehouse-agent='.length)
      .split(';')[0];
  const flow = await signIn(`${cluster.publicUrl}/agent/`, CLUSTER_ALICE);
  const v1 = flow.jar.get(cluster.publicUrl, 'gatehouse-agent')!;
  const signedIn = (await gw.store.load(realm, v1))!;
  t.equal((await call(v1)).status, 200);
  clock.advance(Math.max(0, refreshDueAt(signedIn) - clock.now() + 50)); // to when the tokens are due, not slept on

  const refreshing = await call(v1);
  t.equal(refreshing.status, 200);
  t.equal(cluster.refreshGrants.ok, 1, 'refreshed once');
  const v2 = handedOut(refreshing)!;
  t.ok(v2, 'the refreshed session is handed out');
  t.equal(gw.cache.get(v1), undefined, 'the value with the old tokens is dropped');
  t.equal(gw.cache.size, 1);

  // a request still carrying v1 (its own "last seen" fresh: only its tokens are older)
  const stale = await call(v1);
  t.equal(stale.status, 200);
  t.equal(handedOut(stale), v2, 'handed the refreshed value itself (no new seal)');
  t.equal(cluster.refreshGrants.ok, 1, 'no second refresh');
  t.equal(cluster.refreshGrants.failed, 0, 'the spent refresh token was not presented again');
  t.equal(gw.cache.size, 1, 'nothing cached for v1');
});

t.test('Redis store: the browser keeps its value across touches; one entry, no Set-Cookie', async (t) => {
  const redis = await startRedis();
  t.teardown(() => redis.close());
  const clock = testClock();
  const stack = await startTestStack({
    now: clock.now,
    editYaml: (yaml) => yaml.replace('\n  lifetime: 8h', `\n  store: redis\n  redis_url: ${redis.url}\n  lifetime: 8h`),
  });
  t.teardown(() => stack.close());
  t.equal(stack.gw.store.kind, 'redis');
  const { call, handedOut, valueIn } = helpers(stack);
  const { jar } = await stack.signIn('/agent/', ALICE);
  const ticket = valueIn(jar);
  t.match(ticket, /^r1\./, 'a ticket, not a sealed session');
  t.equal((await call(ticket)).status, 200);
  clock.advance(61_000);
  const touched = await call(ticket);
  t.equal(touched.status, 200, 'touched (last seen written to Redis)');
  t.equal(handedOut(touched.headers), undefined, 'the same ticket: nothing to hand out');
  t.ok(stack.gw.cache.get(ticket), 'cached under the same value');
  t.equal(stack.gw.cache.size, 1);
  t.equal((await call(ticket)).status, 200);
  clock.advance(61 * MINUTE);
  t.equal((await call(ticket)).status, 401, 'idle after an hour without a request, as before');
});
