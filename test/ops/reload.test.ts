// Reload without downtime: a valid config is swapped in atomically with no
// failed request and nobody signed out; an invalid one is rejected with its
// problems logged and the old one keeps serving. In-process through
// running.reload(...), and for real: SIGHUP to a spawned `gatehouse serve`.
import t from 'tap';
import { parseConfigText } from '../../src/config/load.js';
import { demoYaml } from '../../src/demo/stack.js';
import { startDemoProvider, DEMO_ACCOUNTS } from '../../src/demo/provider.js';
import { fetchWithJar, signIn, type CookieJar } from '../helpers/browserless.js';
import { startUpstream } from '../helpers/upstream.js';
import { ALICE, startTestStack } from '../helpers/stack.js';
import { spawnServe, startTcpFront, tempDir, writeFile } from '../helpers/ops.js';

/** Signed-in, public and anonymous requests in a loop until stopped; every status is recorded. */
function trafficLoop(base: string, jar: CookieJar) {
  const statuses: Array<{ what: string; status: number | string }> = [];
  const counted: Array<{ target: number; resolve: () => void }> = [];
  const record = (entry: { what: string; status: number | string }): void => {
    statuses.push(entry);
    for (const waiter of counted.filter((w) => statuses.length >= w.target)) {
      counted.splice(counted.indexOf(waiter), 1);
      waiter.resolve();
    }
  };
  let running = true;
  const worker = async (what: string, url: string, withJar: boolean, expected: number) => {
    while (running) {
      try {
        const res = await fetchWithJar(url, withJar ? { jar } : { headers: { accept: 'application/json' } });
        record({ what, status: res.status === expected ? 'ok' : res.status });
      } catch (error) {
        record({ what, status: `error ${(error as Error).message}` });
      }
    }
  };
  const workers = [
    worker('signed-in', `${base}/agent/tickets/1`, true, 200),
    worker('signed-in', `${base}/agent/tickets/2`, true, 200),
    worker('anonymous API', `${base}/agent/api/x`, false, 401),
    worker('public', `${base}/favicon.ico`, false, 200),
  ];
  return {
    statuses,
    /** resolves once n more requests have completed (traffic really overlaps what happens next) */
    advance(n: number) {
      const target = statuses.length + n;
      return new Promise<void>((resolve) => counted.push({ target, resolve }));
    },
    async stop() {
      running = false;
      await Promise.all(workers);
      return statuses.filter((s) => s.status !== 'ok');
    },
  };
}

t.test('in-process: reloads under traffic drop nothing and sign nobody out', async (t) => {
  const stack = await startTestStack();
  t.teardown(() => stack.close());
  const { jar } = await stack.signIn('/agent/', ALICE);
  const yaml = (title: string, extraPublic = '') =>
    demoYaml(stack.publicUrl, stack.provider.issuer, stack.upstreamUrl).replace('  - /favicon.ico\n', `  - /favicon.ico\n${extraPublic}`) +
    `pages:\n  title: ${title}\n`;
  const env = { GATEHOUSE_DEMO_SECRET: '' };
  // the same session secret as the running gateway: reloads must not change it
  env.GATEHOUSE_DEMO_SECRET = (stack.config.session.secret as string) ?? '';
  const traffic = trafficLoop(stack.publicUrl, jar);
  const generations: number[] = [];
  for (let i = 0; i < 6; i++) {
    await traffic.advance(8);
    const runtime = await stack.gateway.reload(parseConfigText(yaml(`Helpdesk ${i}`, i % 2 ? '  - /status/**\n' : ''), '(reload)', env).config);
    generations.push(runtime.generation);
  }
  await traffic.advance(8);
  const failed = await traffic.stop();
  t.ok(traffic.statuses.length >= 56, `traffic flowed between and during the reloads (${traffic.statuses.length} requests)`);
  t.same(failed, [], 'no request failed or changed its answer');
  t.same(generations, [2, 3, 4, 5, 6, 7]);
  t.equal(stack.gw.runtime.theme.title, 'Helpdesk 5', 'the last config is in effect');
  t.equal((await fetchWithJar(`${stack.publicUrl}/status/204`)).status, 204, 'a public path added by the reload is served anonymously');

  // a config that validates but cannot be built (a key file that is not there): rejected, the old one keeps serving
  const broken = parseConfigText(yaml('Broken') + 'identity:\n  signing:\n    key_file: /nonexistent/signing.pem\n', '(reload)', env).config;
  await t.rejects(stack.gateway.reload(broken));
  t.equal(stack.gw.runtime.theme.title, 'Helpdesk 5', 'the previous runtime is still the one serving');
  t.equal((await fetchWithJar(`${stack.publicUrl}/agent/tickets/3`, { jar })).status, 200, 'alice is still signed in');
});

t.test('SIGHUP to a spawned gatehouse serve: swapped under traffic; an invalid file is rejected and logged', async (t) => {
  // browsers (and the provider's redirects) reach the gateway through a front whose port is known first;
  // the spawned gateway listens on a port of its own (listen.port 0) that it reports once started
  const front = await startTcpFront();
  t.teardown(() => front.close());
  const publicUrl = front.url;
  const provider = await startDemoProvider({
    port: 0,
    accounts: DEMO_ACCOUNTS,
    clients: [
      {
        client_id: 'demo-agent',
        client_secret: 'demo-agent-secret-0123456789abcdef',
        redirect_uris: [`${publicUrl}/agent/login/authenticate-callback/1`],
        post_logout_redirect_uris: [`${publicUrl}/agent`],
      },
    ],
  });
  t.teardown(() => provider.close());
  const upstream = await startUpstream();
  t.teardown(() => upstream.close());
  const dir = tempDir(t);
  const secret = 'a-session-secret-that-stays-the-same-across-reloads';
  const base =
    demoYaml(publicUrl, provider.issuer, upstream.url)
      .replace(`  port: ${front.port}\n`, '  port: 0\n')
      .replace('${GATEHOUSE_DEMO_SECRET}', `[${secret}]`)
      .replace('${GATEHOUSE_DEMO_LOG_LEVEL:-info}', 'info') + 'workers: 1\n'; // one process: one reload counted per SIGHUP
  const file = writeFile(dir, 'gateway.yaml', base);
  const serve = spawnServe(file);
  t.teardown(() => serve.kill());
  front.forwardTo((await serve.listening()).port);

  const alice = await signIn(`${publicUrl}/agent/`, ALICE);
  t.equal(alice.final.status, 200, 'alice signed in through the spawned gateway');
  const traffic = trafficLoop(publicUrl, alice.jar);
  await traffic.advance(8);

  writeFile(dir, 'gateway.yaml', base.replace('  - /favicon.ico\n', '  - /favicon.ico\n  - /status/**\n'));
  serve.child.kill('SIGHUP');
  await serve.waitForLog((l) => l.msg === 'configuration reload accepted');
  await traffic.advance(8);
  t.equal((await fetchWithJar(`${publicUrl}/status/204`)).status, 204, 'the new config is in effect');

  // an invalid file: two problems, both logged with file:line:key; the old config keeps serving
  writeFile(dir, 'gateway.yaml', base.replace('  timeout: 10s', '  timeout: soon\n  retries: 3'));
  serve.child.kill('SIGHUP');
  const rejected = await serve.waitForLog((l) => typeof l.msg === 'string' && l.msg.startsWith('configuration reload rejected'));
  await traffic.advance(8);
  const failed = await traffic.stop();
  t.same(failed, [], `no request failed during the reloads (${traffic.statuses.length} requests)`);
  t.ok(traffic.statuses.length >= 24, 'traffic flowed before, between and after the reloads');
  t.equal(rejected.level, 50, 'logged as an error');
  t.match(rejected.msg, /2 problems/);
  const problems = (rejected.problems as string[]).join('\n');
  t.match(problems, new RegExp(`${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:\\d+:\\d+  upstream\\.timeout: `));
  t.match(problems, /upstream\.retries: unknown key/);
  t.equal((await fetchWithJar(`${publicUrl}/status/204`)).status, 204, 'the previous config keeps serving');
  t.equal((await fetchWithJar(`${publicUrl}/agent/tickets/9`, { jar: alice.jar })).status, 200, 'alice is still signed in');
  const metrics = (await fetchWithJar(`${publicUrl}/.gatehouse/metrics`)).body;
  t.match(metrics, /gatehouse_config_reloads_total\{result="accepted"\} 1/);
  t.match(metrics, /gatehouse_config_reloads_total\{result="rejected"\} 1/);

  serve.child.kill('SIGTERM');
  t.equal((await serve.exited).code, 0);
});

t.test('serve --watch reloads when the file changes', async (t) => {
  const upstream = await startUpstream();
  t.teardown(() => upstream.close());
  const dir = tempDir(t);
  // nothing here signs in: the gateway is asked directly, on the port it reports (listen.port 0)
  const base = demoYaml('http://127.0.0.1:18080', 'http://127.0.0.1:9', upstream.url)
    .replace('  port: 18080\n', '  port: 0\n')
    .replace('${GATEHOUSE_DEMO_SECRET}', '[a-session-secret-that-stays-the-same-across-reloads]')
    .replace('${GATEHOUSE_DEMO_LOG_LEVEL:-info}', 'info');
  const file = writeFile(dir, 'gateway.yaml', base);
  const serve = spawnServe(file, {}, ['--watch']);
  t.teardown(() => serve.kill());
  const publicUrl = (await serve.listening()).url;
  const host = '127.0.0.1:18080'; // public_url's: the gateway serves no other host name (421)
  t.equal((await fetchWithJar(`${publicUrl}/status/204`, { headers: { accept: 'application/json', host } })).status, 401, 'not public yet');
  writeFile(dir, 'gateway.yaml', base.replace('  - /favicon.ico\n', '  - /favicon.ico\n  - /status/**\n'));
  const accepted = await serve.waitForLog((l) => l.msg === 'configuration reload accepted', 5000);
  t.equal(accepted.reason, 'file changed');
  t.equal((await fetchWithJar(`${publicUrl}/status/204`, { headers: { host } })).status, 204, 'the change is in effect without a signal');
  serve.child.kill('SIGTERM');
  t.equal((await serve.exited).code, 0);
});
