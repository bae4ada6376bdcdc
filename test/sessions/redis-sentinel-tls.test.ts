// Redis Sentinel over TLS with passwords, real processes on loopback: a master
// and a replica that speak only TLS and want a password (requirepass), three
// sentinels that speak only TLS, want a password of their own, and reach the
// servers over TLS with the servers' password (sentinel auth-pass). Two
// gateway instances with rediss:// sentinel entries carrying the sentinels'
// password, and session.redis_password. A session made on A is known on B, a
// sign-out on B ends it on A at once; `gatehouse check` names the mode and the
// master; a wrong redis_password answers 503 and says why in the log, without
// the password; the master killed (kill -9) is followed by itself.
//
// The gateway trusts the deployment's private CA the way an operator gives it
// one, through NODE_EXTRA_CA_CERTS (as test/ops/redis-cluster-tls.test.ts).
// Node reads it only when a process starts, and the gateways run in the test's
// own process: so this file makes the CA, then runs its tests again in a child
// process started with NODE_EXTRA_CA_CERTS.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { Redis } from 'ioredis';
import { checkFile } from '../../src/check/check.js';
import { fetchWithJar, signIn, signOut } from '../helpers/browserless.js';
import { minimalYaml, runCli, startFakeProvider, tempDir, writeFile } from '../helpers/ops.js';
import { makeTestTls, startSentinelDeployment, type RedisTls, type SentinelDeployment } from '../helpers/redis.js';
import { ALICE, eventually, startCluster, type Cluster } from './fixtures/cluster.js';
import { gapMs, sessionKeyOf, signedInLoad, whoami, checkSessionShared, checkFailoverAnswers } from './fixtures/redis-ha.js';

const TLS_ENV = 'GATEHOUSE_TEST_SENTINEL_TLS';

if (process.env[TLS_ENV] === undefined) {
  const tls = makeTestTls();
  t.teardown(() => tls.remove());
  await t.spawn(
    process.execPath,
    [...process.execArgv, fileURLToPath(import.meta.url)],
    { env: { ...process.env, NODE_EXTRA_CA_CERTS: tls.caFile, [TLS_ENV]: JSON.stringify(tls) } },
    'with the test CA in NODE_EXTRA_CA_CERTS',
  );
} else await run(JSON.parse(process.env[TLS_ENV]) as RedisTls);

async function run(tls: RedisTls): Promise<void> {
  const password = `server-pw-${randomBytes(8).toString('hex')}`;
  const sentinelPassword = `sentinel-pw-${randomBytes(8).toString('hex')}`;
  const deployment = await startSentinelDeployment({ tls, password, sentinelPassword });
  t.teardown(() => deployment.close());
  const secrets = [password, sentinelPassword];
  // everything is started before the first subtest: tap ends this file's test once its subtests are
  // done, so none may be added after an await in between
  const provider = await startFakeProvider();
  t.teardown(() => provider.close());
  const cluster = await startCluster({ store: 'redis', redis: deployment });
  t.teardown(() => cluster.close());

  t.test('the deployment wants TLS and both passwords', async (t) => {
    // one command on a connection of its own, AUTH first when given: the reply, or why there is none
    const answer = async (port: number, options: { tls?: boolean; password?: string }, ...command: [string, ...string[]]): Promise<string> => {
      const client = new Redis({
        host: '127.0.0.1',
        port,
        lazyConnect: true,
        retryStrategy: () => null,
        maxRetriesPerRequest: 0,
        enableReadyCheck: false,
        ...(options.tls ? { tls: { ca: readFileSync(tls.caFile) } } : {}),
      });
      client.on('error', () => {}); // the rejected command says it
      try {
        await client.connect();
        if (options.password) await client.call('AUTH', options.password);
        return String(await client.call(...command));
      } catch (error) {
        return (error as Error).message;
      } finally {
        client.disconnect();
      }
    };
    const { master, sentinels } = deployment;
    t.match(await answer(master.port, {}, 'PING'), /closed|ECONNRESET/, 'the master: no plain connection');
    t.match(await answer(master.port, { tls: true }, 'PING'), /^NOAUTH/, 'the master: a password');
    t.equal(await answer(master.port, { tls: true, password }, 'PING'), 'PONG');
    const sentinel = sentinels[0]!.port;
    const ask = ['SENTINEL', 'get-master-addr-by-name', deployment.masterName] as const;
    t.match(await answer(sentinel, {}, ...ask), /closed|ECONNRESET/, 'a sentinel: no plain connection');
    t.match(await answer(sentinel, { tls: true }, ...ask), /^NOAUTH/, 'a sentinel: a password of its own');
    t.match(await answer(sentinel, { tls: true, password }, ...ask), /^WRONGPASS/, 'not the servers’');
    t.equal(await answer(sentinel, { tls: true, password: sentinelPassword }, ...ask), `127.0.0.1,${master.port}`);
  });

  checkTests(deployment, provider, secrets);
  sessionTests(deployment, cluster, secrets);
}

function checkTests(deployment: SentinelDeployment, provider: { issuer: string }, secrets: string[]): void {
  const yamlWith = (lines: string[]): string =>
    minimalYaml({ issuer: provider.issuer }).replace('session:\n', `session:\n  store: redis\n${lines.map((l) => `  ${l}\n`).join('')}`);

  t.test('check: the mode and the master, over TLS with the passwords, and never a password', async (t) => {
    const file = writeFile(tempDir(t), 'gateway.yaml', yamlWith(deployment.sessionYaml));
    const master = deployment.master.address;
    const report = await checkFile(file);
    t.match(report.redis, { mode: 'sentinel', address: master, masters: [master], reachable: true, persistence: 'none' });
    t.same(
      report.redis?.nodes?.map((n) => [n.role, n.address, n.reachable, n.detail]),
      deployment.sentinels.map((s) => ['sentinel', s.address, true, `names ${master}`]),
      'each sentinel reached with its password, each names the master',
    );
    const [text, json] = await Promise.all([runCli(['check', '--config', file]), runCli(['check', '--config', file, '--json'])]);
    t.match(text.stdout, `redis ${master} (sentinel, master ${master}): reachable`);
    t.match(JSON.parse(json.stdout).redis, { mode: 'sentinel', address: master, masters: [master], reachable: true }, 'the same in --json');
    t.notOk(
      secrets.some((s) => [text, json].some((out) => (out.stdout + out.stderr).includes(s))),
      'neither prints a password',
    );

    // a wrong redis_password: the sentinels answer, the master refuses it, and check fails (store: redis)
    const wrong = `wrong-pw-${randomBytes(8).toString('hex')}`;
    const wrongFile = writeFile(tempDir(t), 'wrong.yaml', yamlWith(withPassword(deployment, wrong)));
    const refused = await checkFile(wrongFile);
    t.match(refused.redis, {
      mode: 'sentinel',
      address: master,
      masters: [master],
      reachable: false,
      error: /^Redis refused the password \(WRONGPASS\): session\.redis_password is not the one it wants$/,
    });
    t.equal(refused.exit_code, 1, 'a problem: every signed-in request would answer 503');
    const out = await runCli(['check', '--config', wrongFile]);
    t.match(out.stdout, `redis ${master} (sentinel, master ${master}): NOT reachable (Redis refused the password`);
    t.notOk(
      [...secrets, wrong].some((s) => (out.stdout + out.stderr).includes(s)),
      'no password printed with a wrong one either',
    );
  });
}

/** The deployment's session keys with another redis_password. */
function withPassword(deployment: SentinelDeployment, password: string): string[] {
  return deployment.sessionYaml.map((line) => (line.startsWith('redis_password:') ? `redis_password: ${JSON.stringify(password)}` : line));
}

function sessionTests(deployment: SentinelDeployment, cluster: Cluster, secrets: string[]): void {
  t.test('a session made on A is known on B; a sign-out on B ends it on A at once', async (t) => {
    t.match(
      cluster.logs.filter((l) => l.msg === 'redis connected'),
      [
        { mode: 'sentinel', redis: /^sentinel master "gatehouse-test" via rediss:\/\// },
        { mode: 'sentinel', redis: /^sentinel master "gatehouse-test" via rediss:\/\// },
      ],
      'both instances connected through the sentinels, over TLS',
    );
    await checkSessionShared(t, cluster);
  });

  const refusals = [
    {
      which: 'redis_password',
      keys: (wrong: string) => withPassword(deployment, wrong),
      msg: /^redis refused the password: session\.redis_password is not the one it wants; requests that need redis answer 503$/,
      detail: /^WRONGPASS/,
    },
    {
      which: 'sentinel password (in the entries)',
      keys: (wrong: string) => deployment.sessionYaml.map((line) => line.replaceAll(`:${deployment.sentinelPassword!}@`, `:${wrong}@`)),
      msg: /^the sentinels refused their password: give it in each entry of session\.redis_sentinels \(rediss:\/\/:secret@host:port\); requests that need redis answer 503$/,
      detail: /^All sentinels are unreachable\..*WRONGPASS/,
    },
  ];
  for (const refusal of refusals)
    t.test(`a wrong ${refusal.which}: 503, never a 500, and a log line that says why without the password`, async (t) => {
      const wrong = `wrong-pw-${randomBytes(8).toString('hex')}`;
      const keys = refusal.keys(wrong);
      t.ok(
        keys.some((line) => line.includes(wrong)),
        'the config has the wrong password',
      );
      const refused = await startCluster({ store: 'redis', redis: { sessionYaml: keys, close: async () => {} }, instances: 1 });
      t.teardown(() => refused.close());
      refused.use(0);
      const newcomer = await signIn(`${refused.publicUrl}/agent/`, ALICE);
      t.equal(newcomer.final.status, 503, 'a sign-in cannot complete (never a 500)');
      t.match(newcomer.final.body, /GH_SESSION_STORE_UNAVAILABLE/);
      const ready = await fetchWithJar(`${refused.publicUrl}/.gatehouse/readyz`);
      t.match({ status: ready.status, body: JSON.parse(ready.body) }, { status: 503, body: { session_store: false } }, 'not ready');
      t.match(
        refused.logs.filter((l) => /refused (the|their) password/.test(String(l.msg))),
        [{ level: 40, msg: refusal.msg, redis: /^sentinel master "gatehouse-test" via rediss:\/\//, detail: refusal.detail }],
        'one warning says the password was refused, which one, and where',
      );
      t.notOk(
        [...secrets, wrong].some((s) => refused.logText().includes(s)),
        'no password in the log',
      );
    });

  t.test('failover: the master killed under signed-in load; only 200 and 503, then 200 again by itself', async (t) => {
    cluster.use(0);
    const flow = await signIn(`${cluster.publicUrl}/agent/`, ALICE);
    const cookieValue = flow.jar.get(cluster.publicUrl, 'gatehouse-agent')!;
    const cookie = `gatehouse-agent=${cookieValue}`;

    // the session has replicated: the replica has its key (asked over TLS, with the password)
    const replica = new Redis({
      host: '127.0.0.1',
      port: deployment.replica.port,
      tls: { ca: readFileSync(deployment.tls!.caFile) },
      password: deployment.password!,
    });
    t.teardown(() => replica.disconnect());
    t.ok(await eventually(async () => (await replica.exists(sessionKeyOf('agent', cookieValue))) === 1, 2000), 'the replica has the session');

    const load = signedInLoad(cluster, cookie);
    await load.more(50);
    t.ok(
      load.answers.every((a) => a.status === 200),
      'all 200 before the kill',
    );
    const killedAt = performance.now();
    await deployment.master.kill();
    // the sentinels reach each other and the replica over TLS with their passwords, or there is no promotion
    const switched = await deployment.sentinels[0]!.logged(/\+switch-master/);
    const promotedAt = performance.now();
    t.match(switched, `+switch-master ${deployment.masterName} 127.0.0.1 ${deployment.master.port} 127.0.0.1 ${deployment.replica.port}`);

    const after = await checkFailoverAnswers(t, load, killedAt, 'every answer 200 again after the promotion, with nothing restarted');
    t.comment(`sentinel over TLS: 503 for ${Math.round(gapMs(after))} ms; promotion announced ${Math.round(promotedAt - killedAt)} ms after the kill`);

    // sign-outs still travel between the instances, through the new master
    cluster.use(1);
    await signOut(`${cluster.publicUrl}/agent/logout`, { jar: flow.jar });
    t.equal(await whoami(cluster, 0, undefined, cookie), 401, 'a sign-out on B ends the session on A at once');
    t.notOk(
      secrets.some((s) => cluster.logText().includes(s)),
      'no password in any log line of the two instances',
    );
  });
}
