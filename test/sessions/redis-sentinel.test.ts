// Redis Sentinel, real processes on loopback: a master, a replica and three
// sentinels; two gateway instances with redis_sentinels + redis_sentinel_master.
// Sign in on one, continue on the other, a sign-out on one seen at once by the
// other; then the master is killed (kill -9) under signed-in load: only 503
// while there is no master, never a 500 or a reset, the session that had
// replicated still works after the promotion, without a restart.
import t from 'tap';
import { Redis } from 'ioredis';
import { signIn, signOut } from '../helpers/browserless.js';
import { startSentinelDeployment } from '../helpers/redis.js';
import { ALICE, eventually, startCluster } from './fixtures/cluster.js';
import { byStatus, gapMs, sessionKeyOf, signedInLoad, whoami, checkSessionShared, checkFailoverAnswers } from './fixtures/redis-ha.js';

const deployment = await startSentinelDeployment();
t.teardown(() => deployment.close());

/** The wall-clock time (ms) of a redis-server log line: `pid:role 02 Dec 2026 06:10:01.123 * message`. */
function redisLogTime(line: string): number {
  const stamp = /^\d+:\w (\d{2} \w{3} \d{4} \d{2}:\d{2}:\d{2}\.\d{3}) /.exec(line);
  const ms = stamp ? Date.parse(stamp[1]!) : Number.NaN;
  if (Number.isNaN(ms)) throw new Error(`no time in the redis log line ${JSON.stringify(line)}`);
  return ms;
}

t.test('sentinel: a session made on A is known on B; a sign-out on B ends it on A at once', async (t) => {
  const cluster = await startCluster({ store: 'redis', redis: deployment });
  t.teardown(() => cluster.close());
  t.ok(
    cluster.logs.some((l) => l.msg === 'redis connected' && l.mode === 'sentinel'),
    'connected through the sentinels',
  );

  await checkSessionShared(t, cluster);
});

t.test('sentinel failover: the master killed under signed-in load; 503 while there is no master, then the same session again', async (t) => {
  const cluster = await startCluster({ store: 'redis', redis: deployment });
  t.teardown(() => cluster.close());
  cluster.use(0);
  const flow = await signIn(`${cluster.publicUrl}/agent/`, ALICE);
  const cookieValue = flow.jar.get(cluster.publicUrl, 'gatehouse-agent')!;
  const cookie = `gatehouse-agent=${cookieValue}`;

  // the session has replicated: the replica has its key
  const replica = new Redis({ port: deployment.replica.port, host: '127.0.0.1', lazyConnect: true });
  t.teardown(() => replica.disconnect());
  const key = sessionKeyOf('agent', cookieValue);
  t.ok(await eventually(async () => (await replica.exists(key)) === 1, 2000), 'the replica has the session');

  // the sentinels announce the promotion on their +switch-master channel
  const watcher = new Redis({ port: deployment.sentinels[0]!.port, host: '127.0.0.1' });
  t.teardown(() => watcher.disconnect());
  const switched = new Promise<string>((resolve) => watcher.on('message', (_channel: string, message: string) => resolve(message)));
  await watcher.subscribe('+switch-master');

  const load = signedInLoad(cluster, cookie);
  await load.more(50);
  t.ok(
    load.answers.every((a) => a.status === 200),
    'all 200 before the kill',
  );
  // the replica's own log says when it stopped being a replica: a 200 before that was served from memory
  const becameMaster = deployment.replica.logged(/MASTER MODE enabled/);
  const killedAt = performance.now();
  await deployment.master.kill();
  const message = await Promise.race([switched, new Promise<string>((r) => setTimeout(() => r('timeout'), 30_000).unref())]);
  t.match(
    message,
    new RegExp(`^${deployment.masterName} 127\\.0\\.0\\.1 ${deployment.master.port} 127\\.0\\.0\\.1 ${deployment.replica.port}$`),
    'the sentinels promoted the replica',
  );
  const promotedAt = performance.now();

  // every instance serves the session again by itself, with nothing restarted
  const after = await checkFailoverAnswers(t, load, killedAt);
  // fail closed: with the master gone nothing is served from memory (the session cache would hold it for 5 s)
  // until the moment the replica took over, by its log line's own time: the sentinels announce the promotion
  // later, and a gateway may be told the new master by a sentinel (and be served by it) before that
  const promotedWall = redisLogTime(await becameMaster);
  const whileNoMaster = after.filter((a) => a.at > killedAt + 500 && a.wallAt < promotedWall);
  t.ok(whileNoMaster.length > 0 && whileNoMaster.every((a) => a.status === 503), `503 while there is no master: ${JSON.stringify(byStatus(whileNoMaster))}`);
  const gap = gapMs(after);
  t.comment(
    `sentinel failover: 503 for ${Math.round(gap)} ms; promotion announced ${Math.round(promotedAt - killedAt)} ms after the kill (down-after-milliseconds 1000)`,
  );
  t.ok(
    cluster.logs.some((l) => l.msg === 'redis connection lost; reconnecting'),
    'the loss was logged',
  );

  // revocations still travel between the instances after the failover
  t.equal(await whoami(cluster, 1, undefined, cookie), 200);
  cluster.use(1);
  await signOut(`${cluster.publicUrl}/agent/logout`, { jar: flow.jar });
  t.equal(await whoami(cluster, 0, undefined, cookie), 401, 'a sign-out on B ends the session on A at once, through the new master');
});
