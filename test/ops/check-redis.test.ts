// `gatehouse check` and Redis: reachable or not, and whether it keeps sessions
// and sign-outs across its own restart — asked of a real redis-server with
// CONFIG GET appendonly / save, and said in plain words with what to change.
import t from 'tap';
import { checkFile } from '../../src/check/check.js';
import { startRedis } from '../helpers/redis.js';
import { minimalYaml, runCli, startFakeProvider, tempDir, writeFile } from '../helpers/ops.js';

const provider = await startFakeProvider();
t.teardown(() => provider.close());

function yamlWith(redisUrl: string, store: 'redis' | 'cookie'): string {
  return minimalYaml({ issuer: provider.issuer }).replace('session:\n', `session:\n  store: ${store}\n  redis_url: ${redisUrl}\n`);
}

t.test('Redis without persistence: a warning that says what a restart loses and how to keep it', async (t) => {
  const redis = await startRedis();
  t.teardown(() => redis.close());
  const file = writeFile(tempDir(t), 'gateway.yaml', yamlWith(redis.url, 'redis'));
  const report = await checkFile(file);
  t.match(report.redis, { address: `127.0.0.1:${redis.port}`, reachable: true, appendonly: 'no', save: '', persistence: 'none' });
  const warning = report.warnings.find((w) => w.key === 'session.redis_url');
  t.match(warning?.message, /keeps nothing across its own restart \(appendonly no, save ""\): when it restarts, every session is lost/);
  t.match(warning?.fix, /appendonly yes/);
  t.match(warning?.fix, /replica/);
  t.equal(report.exit_code, 0, 'a warning, not a failure');

  const cookie = await checkFile(writeFile(tempDir(t), 'cookie.yaml', yamlWith(redis.url, 'cookie')));
  t.match(cookie.warnings.find((w) => w.key === 'session.redis_url')?.message, /every sign-out it remembered is lost/, 'store: cookie loses its revocations');

  const text = await runCli(['check', '--config', file]);
  t.match(
    text.stdout,
    new RegExp(`redis 127\\.0\\.0\\.1:${redis.port}: reachable; persistence: none \\(appendonly no, save ""\\): a Redis restart loses every session`),
  );
});

t.test('Redis with appendonly yes: said so, no warning', async (t) => {
  const redis = await startRedis({ appendonly: true });
  t.teardown(() => redis.close());
  const report = await checkFile(writeFile(tempDir(t), 'gateway.yaml', yamlWith(redis.url, 'redis')));
  t.match(report.redis, { reachable: true, appendonly: 'yes', persistence: 'appendonly' });
  t.same(
    report.warnings.filter((w) => w.key === 'session.redis_url'),
    [],
  );
  t.same(report.problems, []);
});

t.test('Redis not answering: store redis fails the check; the report says so', async (t) => {
  const redis = await startRedis();
  await redis.close();
  const report = await checkFile(writeFile(tempDir(t), 'gateway.yaml', yamlWith(redis.url, 'redis')));
  t.match(report.redis, { reachable: false, error: /ECONNREFUSED/ });
  t.match(report.problems.find((p) => p.key === 'session.redis_url')?.message, /every signed-in request would answer 503/);
  t.equal(report.exit_code, 1);
});
