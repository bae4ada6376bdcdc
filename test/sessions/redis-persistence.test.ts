// Sessions across a Redis restart (store: redis). Redis with `appendonly yes`
// replays its log on start: signed-in people stay signed in. Without
// persistence Redis comes back empty and everyone signs in again — as the
// README and `gatehouse check` say.
import t from 'tap';
import { fetchWithJar, signIn } from '../helpers/browserless.js';
import { startRedis } from '../helpers/redis.js';
import { ALICE, XHR, eventually, startCluster } from './fixtures/cluster.js';

async function sessionAcrossRestart(t: Tap.Test, appendonly: boolean): Promise<{ before: number; after: number }> {
  const redis = await startRedis({ appendonly });
  t.teardown(() => redis.close());
  const cluster = await startCluster({ store: 'redis', redis, instances: 1 });
  t.teardown(() => cluster.close());
  cluster.use(0);
  const flow = await signIn(`${cluster.publicUrl}/agent/`, ALICE);
  t.equal(flow.final.status, 200, 'signed in');
  const whoami = async () => (await fetchWithJar(`${cluster.publicUrl}/agent/api/whoami`, { jar: flow.jar, headers: XHR })).status;
  const before = await whoami();
  const pid = redis.pid;
  await redis.stop();
  await redis.start();
  t.not(redis.pid, pid, 'a new redis-server process');
  // the gateway's client reconnects by itself; until then the answer is 503 (fail closed)
  let after = 503;
  const backOnRedis = async (): Promise<boolean> => {
    after = await whoami();
    return after !== 503;
  };
  t.ok(await eventually(backOnRedis, 10_000), 'the gateway is back on Redis');
  return { before, after };
}

t.test('appendonly yes: a session survives a Redis restart', async (t) => {
  const { before, after } = await sessionAcrossRestart(t, true);
  t.equal(before, 200);
  t.equal(after, 200, 'still signed in after the restart');
});

t.test('no persistence: Redis comes back empty and the session is gone (documented)', async (t) => {
  const { before, after } = await sessionAcrossRestart(t, false);
  t.equal(before, 200);
  t.equal(after, 401, 'signed out: the session was only in memory');
});
