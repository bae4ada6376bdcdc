// Redis Sentinel with one sentinel hung (SIGSTOP: it accepts connections and
// never answers) when the master is lost (kill -9). The gateways ask that
// sentinel first, so every reconnect waits on it while the other two promote
// the replica; the +switch-master they announce arrives in the middle of such a
// reconnect. ioredis then ends the connection for good ("Connection is
// closed", status end), and without the link starting it again every request
// answered 503 until a restart. Judged from outside: the answers of signed-in
// load on two gateway instances, and a sign-out travelling between them after.
import t from 'tap';
import { fetchWithJar, signIn, signOut } from '../helpers/browserless.js';
import { startSentinelDeployment } from '../helpers/redis.js';
import { ALICE, XHR, startCluster } from './fixtures/cluster.js';
import { byStatus, signedInLoad, recovers, unexpectedStatuses } from './fixtures/redis-ha.js';

const deployment = await startSentinelDeployment();
t.teardown(() => deployment.close());

t.test('a hung sentinel while the master is lost: the gateways still follow the promotion, by themselves', async (t) => {
  const cluster = await startCluster({ store: 'redis', redis: deployment });
  t.teardown(() => cluster.close());
  cluster.use(0);
  const flow = await signIn(`${cluster.publicUrl}/agent/`, ALICE);
  const cookie = `gatehouse-agent=${flow.jar.get(cluster.publicUrl, 'gatehouse-agent')!}`;

  const load = signedInLoad(cluster, cookie);
  await load.more(40);
  t.ok(
    load.answers.every((a) => a.status === 200),
    'all 200 before the kill',
  );

  // the first sentinel of redis_sentinels is the one every reconnect asks first
  const hung = deployment.sentinels[0]!;
  process.kill(hung.pid!, 'SIGSTOP');
  t.teardown(() => {
    if (hung.pid !== null) process.kill(hung.pid, 'SIGCONT');
  });
  await deployment.master.kill();
  // the two others are a quorum and a majority: they promote the replica
  await deployment.sentinels[1]!.logged(/\+switch-master/);

  t.ok(await recovers(load, 15_000), 'every answer 200 again after the promotion');
  const answers = await load.stop();
  t.same(unexpectedStatuses(answers), [], `only 200 and 503: ${JSON.stringify(byStatus(answers))}`);
  t.comment(
    `connections started again by the link: ${cluster.logs.filter((l) => l.msg === 'the redis client stopped reconnecting; starting it again').length}`,
  );

  // the subscriber came back too: a sign-out on B ends the session on A at once
  cluster.use(1);
  await signOut(`${cluster.publicUrl}/agent/logout`, { jar: flow.jar });
  cluster.use(0);
  const res = await fetchWithJar(`${cluster.publicUrl}/agent/api/whoami`, { headers: { ...XHR, cookie } });
  t.equal(res.status, 401, 'a sign-out on B ends the session on A at once, through the new master');
});
