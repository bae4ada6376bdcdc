// Redis Cluster, real processes on loopback: three masters with a replica each
// (redis-cli --cluster create); two gateway instances with redis_cluster. Sign
// in on one, continue on the other, a sign-out on one seen at once by the other
// (publish/subscribe reaches every instance, whatever node each listens on);
// then the master that holds the session is killed (kill -9) under signed-in
// load: only 503 while its shard has no master, never a 500 or a reset, and the
// session that had replicated works again once the cluster promotes the replica.
import t from 'tap';
import { Redis } from 'ioredis';
import { signIn, signOut } from '../helpers/browserless.js';
import { startRedisCluster } from '../helpers/redis.js';
import { RECHECK_MS } from '../../src/session/redis/store.js';
import { ALICE, eventually, startCluster } from './fixtures/cluster.js';
import { byStatus, gapMs, sessionKeyOf, signedInLoad, whoami, checkSessionShared, checkFailoverAnswers } from './fixtures/redis-ha.js';

const deployment = await startRedisCluster({ replicas: 1 });
t.teardown(() => deployment.close());

/**
 * The node (by port) that serves `key`'s slot as master, and its replica, from CLUSTER NODES
 * (`<id> <ip:port@bus> <flags> <master-id> <ping> <pong> <epoch> <link> <slots...>`): the view the
 * deployment waited for (every node knows every replica); CLUSTER SLOTS can leave a replica out
 * for a while after it joined.
 */
async function ownersOf(key: string): Promise<{ master: number; replica: number }> {
  const any = new Redis({ port: deployment.nodes[0]!.port, host: '127.0.0.1' });
  try {
    const slot = (await any.call('CLUSTER', 'KEYSLOT', key)) as number;
    const nodes = String(await any.call('CLUSTER', 'NODES'))
      .trim()
      .split('\n')
      .map((line) => line.split(' '));
    const portOf = (address: string): number => Number(address.split('@')[0]!.split(':').pop());
    const serves = (ranges: string[]): boolean =>
      ranges.some((range) => {
        const [from, to = from] = range.split('-').map(Number);
        return slot >= from! && slot <= to!;
      });
    const master = nodes.find(([, , flags, , , , , , ...ranges]) => /\bmaster\b/.test(flags!) && serves(ranges));
    const replica = master && nodes.find(([, , flags, masterId]) => /\bslave\b/.test(flags!) && masterId === master[0]);
    if (!master || !replica) throw new Error(`no master with a replica for slot ${slot} in CLUSTER NODES:\n${nodes.map((n) => n.join(' ')).join('\n')}`);
    return { master: portOf(master[1]!), replica: portOf(replica[1]!) };
  } finally {
    any.disconnect();
  }
}

t.test('cluster: a session made on A is known on B; a sign-out on B ends it on A at once', async (t) => {
  const cluster = await startCluster({ store: 'redis', redis: deployment });
  t.teardown(() => cluster.close());
  t.ok(
    cluster.logs.some((l) => l.msg === 'redis connected' && l.mode === 'cluster'),
    'connected to the cluster',
  );

  await checkSessionShared(t, cluster);
});

t.test('cluster failover: the master holding the session killed under load; 503 while its shard has no master, then the same session again', async (t) => {
  // the gateways' clock: moved past the session cache's recheck window at the kill, so every request asks Redis
  let offsetMs = 0;
  const cluster = await startCluster({ store: 'redis', redis: deployment, now: () => Date.now() + offsetMs });
  t.teardown(() => cluster.close());
  cluster.use(0);
  const flow = await signIn(`${cluster.publicUrl}/agent/`, ALICE);
  const cookieValue = flow.jar.get(cluster.publicUrl, 'gatehouse-agent')!;
  const cookie = `gatehouse-agent=${cookieValue}`;
  const key = sessionKeyOf('agent', cookieValue);
  const owners = await ownersOf(key);

  // the session has replicated: its shard's replica has the key
  const replica = new Redis({ port: owners.replica, host: '127.0.0.1', readOnly: true });
  t.teardown(() => replica.disconnect());
  t.ok(await eventually(async () => (await replica.exists(key)) === 1, 2000), 'the replica has the session');

  const load = signedInLoad(cluster, cookie);
  await load.more(50);
  t.ok(
    load.answers.every((a) => a.status === 200),
    'all 200 before the kill',
  );
  const victim = deployment.nodes.find((n) => n.port === owners.master)!;
  const promoted = deployment.nodes.find((n) => n.port === owners.replica)!;
  const killedAt = performance.now();
  await victim.kill();
  offsetMs = RECHECK_MS + 1000;
  // the replica logs its promotion: the cluster's own event
  const won = await Promise.race([
    promoted.logged(/Failover election won/).then(() => true),
    new Promise<boolean>((r) => setTimeout(() => r(false), 30_000).unref()),
  ]);
  t.ok(won, 'the cluster promoted the replica');
  const promotedAt = performance.now();

  const after = await checkFailoverAnswers(t, load, killedAt);
  t.ok((byStatus(after)['503'] ?? 0) > 0, 'the shard without a master answered 503 (asked, not served from memory)');
  t.comment(
    `cluster failover: 503 for ${Math.round(gapMs(after))} ms; promotion ${Math.round(promotedAt - killedAt)} ms after the kill (cluster-node-timeout 1000)`,
  );

  // revocations still travel between the instances after the failover
  t.equal(await whoami(cluster, 1, undefined, cookie), 200);
  cluster.use(1);
  await signOut(`${cluster.publicUrl}/agent/logout`, { jar: flow.jar });
  t.equal(await whoami(cluster, 0, undefined, cookie), 401, 'a sign-out on B ends the session on A at once, after the failover');
});
