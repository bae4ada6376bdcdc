// Redis stops while people are signed in, and starts again: signed-in requests
// fail closed with a clear 503 (JSON for scripts, a page for people),
// readiness says so, nothing crashes, and the gateway recovers by itself.
import t from 'tap';
import { fetchWithJar, signIn } from '../helpers/browserless.js';
import { startRedis } from '../helpers/redis.js';
import { ALICE, NAVIGATION, XHR, eventually, startCluster, type Cluster } from './fixtures/cluster.js';

const redis = await startRedis();
t.teardown(() => redis.close());

const readyz = async (cluster: Cluster) => {
  const res = await fetchWithJar(`${cluster.publicUrl}/.gatehouse/readyz`);
  return { status: res.status, body: JSON.parse(res.body) as { ready: boolean; session_store: boolean } };
};

t.test('store: redis — Redis stopped → 503 and not ready; started again → recovers by itself', async (t) => {
  const cluster = await startCluster({ store: 'redis', redis, instances: 1 });
  t.teardown(() => cluster.close());
  cluster.use(0);
  const flow = await signIn(`${cluster.publicUrl}/agent/`, ALICE);
  t.equal(flow.final.status, 200);
  t.equal((await readyz(cluster)).status, 200, 'ready');

  await redis.stop();
  const xhr = await fetchWithJar(`${cluster.publicUrl}/agent/api/whoami`, { jar: flow.jar, headers: XHR });
  t.equal(xhr.status, 503, 'a signed-in script request: 503');
  t.equal(JSON.parse(xhr.body).error, 'GH_SESSION_STORE_UNAVAILABLE');
  t.equal(xhr.headers['retry-after'], '5');
  t.equal(flow.jar.get(cluster.publicUrl, 'gatehouse-agent')?.startsWith('r1.'), true, 'the cookie is kept: the session may come back');
  const page = await fetchWithJar(`${cluster.publicUrl}/agent/tickets/1`, { jar: flow.jar, headers: NAVIGATION });
  t.equal(page.status, 503, 'a person: a 503 page');
  t.match(page.headers['content-type'], /text\/html/);
  t.match(page.body, /GH_SESSION_STORE_UNAVAILABLE/);
  const ready = await readyz(cluster);
  t.equal(ready.status, 503, 'not ready');
  t.equal(ready.body.session_store, false, 'readiness names the session store');
  t.equal((await fetchWithJar(`${cluster.publicUrl}/.gatehouse/healthz`)).status, 200, 'alive');
  const newcomer = await signIn(`${cluster.publicUrl}/agent/`, ALICE);
  t.equal(newcomer.final.status, 503, 'a sign-in cannot complete without the store');
  t.match(newcomer.final.body, /GH_SESSION_STORE_UNAVAILABLE/);

  await redis.start();
  t.ok(await eventually(async () => (await readyz(cluster)).status === 200, 5000), 'ready again without a restart');
  // this Redis keeps nothing across a restart: the old session is simply gone (signed out, not an error)
  const after = await fetchWithJar(`${cluster.publicUrl}/agent/api/whoami`, { jar: flow.jar, headers: XHR });
  t.equal(after.status, 401);
  const again = await signIn(`${cluster.publicUrl}/agent/`, ALICE, { jar: flow.jar });
  t.equal(again.final.status, 200, 'signing in works again');
  t.equal((await fetchWithJar(`${cluster.publicUrl}/agent/api/whoami`, { jar: flow.jar, headers: XHR })).status, 200);
  t.equal(cluster.logs.filter((l) => l.msg === 'redis connection lost; reconnecting').length, 1, 'the outage was logged once');
  t.ok(
    cluster.logs.some((l) => l.msg === 'redis connected' && Date.parse(String(l.time)) > Date.now() - 10_000),
    'and the recovery',
  );
});

t.test('store: redis — a Redis that hangs: 503 within about a second, then back', async (t) => {
  const cluster = await startCluster({ store: 'redis', redis, instances: 1 });
  t.teardown(() => cluster.close());
  cluster.use(0);
  const flow = await signIn(`${cluster.publicUrl}/agent/`, ALICE);
  // let the session cache's recheck interval pass, so the next request asks Redis
  const gw = cluster.gateways[0]!.gw;
  gw.cache.clear();
  redis.pause();
  t.teardown(() => redis.resume());
  const started = Date.now();
  const hung = await fetchWithJar(`${cluster.publicUrl}/agent/api/whoami`, { jar: flow.jar, headers: XHR });
  t.equal(hung.status, 503);
  t.ok(Date.now() - started < 2500, `answered in ${Date.now() - started} ms`);
  redis.resume();
  t.ok(
    await eventually(async () => (await fetchWithJar(`${cluster.publicUrl}/agent/api/whoami`, { jar: flow.jar, headers: XHR })).status === 200, 5000),
    'the same session works again',
  );
});
