// Redis and the gateway's life cycle: Redis down when the gateway starts, a
// Redis outage under the cookie store with redis_url (sessions keep working,
// sign-out still works, revocations catch up), and a gateway that fails to
// listen releasing its Redis connections.
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

t.test('Redis down when the gateway starts: it starts, is not ready, and becomes ready when Redis comes', async (t) => {
  await redis.stop();
  const cluster = await startCluster({ store: 'redis', redis, instances: 1 });
  t.teardown(() => cluster.close());
  cluster.use(0);
  t.equal((await readyz(cluster)).body.session_store, false, 'not ready');
  await redis.start();
  t.ok(await eventually(async () => (await readyz(cluster)).status === 200, 5000), 'ready once Redis answers');
  const flow = await signIn(`${cluster.publicUrl}/agent/`, ALICE);
  t.equal(flow.final.status, 200, 'sign-in works');
});

t.test('store: cookie with redis_url — sessions keep working during the outage; sign-out still works', async (t) => {
  const cluster = await startCluster({ store: 'cookie', redis, instances: 2 });
  t.teardown(() => cluster.close());
  cluster.use(0);
  const flow = await signIn(`${cluster.publicUrl}/agent/`, ALICE);
  const copied = `gatehouse-agent=${flow.jar.get(cluster.publicUrl, 'gatehouse-agent')}`;
  await redis.stop();
  t.equal(
    (await fetchWithJar(`${cluster.publicUrl}/agent/api/whoami`, { jar: flow.jar, headers: XHR })).status,
    200,
    'the cookie store needs no Redis to serve',
  );
  cluster.use(1);
  const out = await fetchWithJar(`${cluster.publicUrl}/agent/logout`, {
    jar: flow.jar,
    method: 'POST',
    headers: { ...NAVIGATION, origin: cluster.publicUrl, 'sec-fetch-site': 'same-origin', 'content-type': 'application/x-www-form-urlencoded' },
    body: '',
  });
  t.equal(out.status, 303, 'signing out does not fail');
  t.equal((await fetchWithJar(`${cluster.publicUrl}/agent/api/whoami`, { headers: { ...XHR, cookie: copied } })).status, 401, 'revoked on B at once');
  await redis.start();
  cluster.use(0);
  t.ok(
    await eventually(async () => (await fetchWithJar(`${cluster.publicUrl}/agent/api/whoami`, { headers: { ...XHR, cookie: copied } })).status === 401, 5000),
    'and on A once Redis is back (B wrote it on reconnect)',
  );
});

t.test('a gateway that cannot listen closes its Redis connections (no hanging process)', async (t) => {
  const { createServer } = await import('node:net');
  const { Redis } = await import('ioredis');
  const { startGateway } = await import('../../src/server.js');
  const { createLogger } = await import('../../src/observe/log.js');
  const cluster = await startCluster({ store: 'redis', redis, instances: 1 });
  t.teardown(() => cluster.close());
  const inspect = new Redis(redis.url);
  t.teardown(() => inspect.disconnect());
  const clients = async (): Promise<number> =>
    String(await inspect.client('LIST'))
      .trim()
      .split('\n').length;
  const before = await clients();
  const busy = createServer();
  await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => busy.close(() => resolve())));
  const port = (busy.address() as { port: number }).port;
  await t.rejects(
    startGateway({ config: cluster.config, file: '(test)', port, host: '127.0.0.1', logger: createLogger({ level: 'silent', format: 'json' }) }),
    { code: 'EADDRINUSE' },
  );
  t.ok(await eventually(async () => (await clients()) === before, 2000), 'its Redis connections are closed');
});
