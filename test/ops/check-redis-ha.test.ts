// `gatehouse check` with Redis Sentinel and Redis Cluster, against real
// redis-server processes: it says the mode, reaches every sentinel or node,
// names the master it found, and says what is missing when one is away.
import t from 'tap';
import { checkFile } from '../../src/check/check.js';
import { startRedisCluster, startSentinelDeployment } from '../helpers/redis.js';
import { minimalYaml, runCli, startFakeProvider, tempDir, writeFile } from '../helpers/ops.js';

const provider = await startFakeProvider();
t.teardown(() => provider.close());

const yamlWith = (lines: string[]): string =>
  minimalYaml({ issuer: provider.issuer }).replace('session:\n', `session:\n  store: redis\n${lines.map((l) => `  ${l}\n`).join('')}`);

t.test('Sentinel: every sentinel asked, the master they name probed', async (t) => {
  const sentinel = await startSentinelDeployment();
  t.teardown(() => sentinel.close());
  const file = writeFile(tempDir(t), 'gateway.yaml', yamlWith(sentinel.sessionYaml));
  const report = await checkFile(file);
  const master = `127.0.0.1:${sentinel.master.port}`;
  t.match(report.redis, { mode: 'sentinel', address: master, masters: [master], reachable: true, persistence: 'none' });
  t.same(
    report.redis?.nodes?.map((n) => [n.role, n.address, n.reachable, n.detail]),
    sentinel.sentinels.map((s) => ['sentinel', s.address, true, `names ${master}`]),
    'each sentinel reached, each names the master',
  );
  t.match(
    report.warnings.find((w) => w.key === 'session.redis_sentinels')?.message,
    /keeps nothing across its own restart/,
    'persistence judged on the master',
  );
  const text = await runCli(['check', '--config', file]);
  t.match(text.stdout, new RegExp(`redis ${master.replace(/\./g, '\\.')} \\(sentinel, master ${master.replace(/\./g, '\\.')}\\): reachable`));
  t.match(text.stdout, new RegExp(`  sentinel ${sentinel.sentinels[2]!.address.replace(/\./g, '\\.')}: reachable; names ${master.replace(/\./g, '\\.')}`));

  // one sentinel away: a warning (a failover may not happen), the gateway would still work
  await sentinel.sentinels[1]!.kill();
  const degraded = await checkFile(file);
  t.equal(degraded.exit_code, 0);
  t.match(
    degraded.warnings.find((w) => /^sentinel /.test(w.message))?.message,
    new RegExp(`sentinel ${sentinel.sentinels[1]!.address}: cannot connect \\(ECONNREFUSED\\); Redis keeps working, a failover may not`),
  );

  // a master name the sentinels do not watch: no master, store: redis fails the check
  const wrong = await checkFile(writeFile(tempDir(t), 'wrong.yaml', yamlWith([sentinel.sessionYaml[0]!, 'redis_sentinel_master: nosuchmaster'])));
  t.match(
    wrong.problems.find((p) => p.key === 'session.redis_sentinels')?.message,
    /no sentinel names the master .*does not watch a master named "nosuchmaster".*every signed-in request would answer 503/,
  );
  t.equal(wrong.exit_code, 1);
});

t.test('Cluster: every node listed and reached, the masters named', async (t) => {
  const cluster = await startRedisCluster({ replicas: 1 });
  t.teardown(() => cluster.close());
  const file = writeFile(tempDir(t), 'gateway.yaml', yamlWith(cluster.sessionYaml));
  const report = await checkFile(file);
  t.match(report.redis, { mode: 'cluster', reachable: true, persistence: 'none' });
  t.equal(report.redis?.masters?.length, 3, 'three masters');
  t.same(report.redis?.nodes?.map((n) => n.role).sort(), ['master', 'master', 'master', 'replica', 'replica', 'replica'], 'and three replicas, all listed');
  t.ok(
    report.redis?.nodes?.every((n) => n.reachable),
    'each reached',
  );
  t.match(report.warnings.find((w) => w.key === 'session.redis_cluster')?.message, /keeps nothing across its own restart/);
  const text = await runCli(['check', '--config', file]);
  t.match(
    text.stdout,
    /redis 127\.0\.0\.1:\d+,127\.0\.0\.1:\d+,127\.0\.0\.1:\d+ \(cluster, masters 127\.0\.0\.1:\d+, 127\.0\.0\.1:\d+, 127\.0\.0\.1:\d+\): reachable/,
  );
  t.match(text.stdout, / {2}master 127\.0\.0\.1:\d+: reachable; slots \d+-\d+/);
  t.match(text.stdout, / {2}replica 127\.0\.0\.1:\d+: reachable; replica of 127\.0\.0\.1:\d+/);
});
