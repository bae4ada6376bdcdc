// rediss:// with Redis Cluster: three masters that speak only TLS (between
// themselves too), a CA of the test's own that the gateway trusts through
// NODE_EXTRA_CA_CERTS, as an operator would with a private CA. `gatehouse
// check` reaches every node over TLS; `gatehouse serve` connects, and its
// readiness (a PING through the cluster) is true.
import t from 'tap';
import { makeTestTls, startRedisCluster } from '../helpers/redis.js';
import { minimalYaml, runCli, spawnServe, startFakeProvider, tempDir, writeFile } from '../helpers/ops.js';

const tls = makeTestTls();
t.teardown(() => tls.remove());
const cluster = await startRedisCluster({ replicas: 0, tls });
t.teardown(() => cluster.close());
const provider = await startFakeProvider();
t.teardown(() => provider.close());

const yaml = minimalYaml({ issuer: provider.issuer, publicUrl: 'http://127.0.0.1:8080' })
  .replace('session:\n', `session:\n  store: redis\n${cluster.sessionYaml.map((l) => `  ${l}\n`).join('')}`)
  .concat('workers: 1\nlisten:\n  host: 127.0.0.1\n  port: 0\n');

t.test('check reaches every node over TLS and names the masters', async (t) => {
  const file = writeFile(tempDir(t), 'gateway.yaml', yaml);
  const trusted = await runCli(['check', '--config', file, '--json'], { env: { NODE_EXTRA_CA_CERTS: tls.caFile } });
  const report = JSON.parse(trusted.stdout) as { redis: { mode: string; reachable: boolean; masters: string[]; nodes: Array<{ reachable: boolean }> } };
  t.match(report.redis, { mode: 'cluster', reachable: true });
  t.equal(report.redis.masters.length, 3);
  t.ok(
    report.redis.nodes.every((n) => n.reachable),
    'every node reached over TLS',
  );

  // without the CA the certificate is refused, and check says so
  const untrusted = await runCli(['check', '--config', file, '--json']);
  t.match(JSON.parse(untrusted.stdout).redis, {
    reachable: false,
    error: /no seed node answers.*(SELF_SIGNED|UNABLE_TO_VERIFY|unable to verify|self.signed)/i,
  });
});

t.test('serve connects to the cluster over TLS and is ready', async (t) => {
  const file = writeFile(tempDir(t), 'gateway.yaml', yaml);
  const serve = spawnServe(file, { NODE_EXTRA_CA_CERTS: tls.caFile });
  t.teardown(() => serve.kill());
  const connected = await serve.waitForLog((l) => l.msg === 'redis connected');
  t.match(connected, { mode: 'cluster', redis: /^cluster rediss:\/\/127\.0\.0\.1:\d+,/ });
  const { port } = await serve.listening();
  const ready = await fetch(`http://127.0.0.1:${port}/.gatehouse/readyz`);
  t.match(await ready.json(), { session_store: true });
});
