// The command line's contract: `serve` with a bad file exits 2 and names
// file:line:key; `check` reaches every realm's provider and prints what to
// register for each realm (callback URL, logout URL, web origin) with exit 0, or
// exits 1 when an issuer cannot be reached. Runs the built dist/cli.js.
import t from 'tap';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { demoYaml } from '../../src/demo/stack.js';
import { startDemoProvider } from '../../src/demo/provider.js';
import { startUpstream } from '../helpers/upstream.js';
import { runCli, tempDir, writeFile } from '../helpers/ops.js';

const SECRET = { GATEHOUSE_DEMO_SECRET: randomBytes(32).toString('base64url') };

t.test('serve with a bad file: exit 2, file:line:key, nothing started', async (t) => {
  const dir = tempDir(t);
  const yaml = demoYaml('http://127.0.0.1:18080', 'http://127.0.0.1:18081', 'http://127.0.0.1:18082')
    .replace('    logout_path: /agent/logout\n', '    logut_path: /agent/logout\n')
    .replace('  timeout: 10s\n', '  timeout: soon\n');
  const file = writeFile(dir, 'bad.yaml', yaml);
  const line = (text: string) => yaml.split('\n').findIndex((l) => l.includes(text)) + 1;
  const result = await runCli(['serve', '--config', file], { env: SECRET });
  t.equal(result.code, 2, 'bad configuration exits 2');
  t.match(result.stderr, `${file}:${line('logut_path')}:5  realms.agent.logut_path: unknown key (did you mean "logout_path"?)`);
  t.match(result.stderr, new RegExp(`${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:${line('timeout: soon')}:\\d+  upstream\\.timeout: `));
  t.match(result.stderr, /\n2 problems(, \d+ warnings?)? — gatehouse did not start/);
  t.notMatch(result.stdout, /gatehouse listening/, 'never started');

  const unset = await runCli([
    'serve',
    '--config',
    writeFile(dir, 'env.yaml', demoYaml('http://127.0.0.1:18080', 'http://127.0.0.1:18081', 'http://127.0.0.1:18082')),
  ]);
  t.equal(unset.code, 2, 'a missing environment variable is a configuration error');
  t.match(unset.stderr, `${dir}/env.yaml:${line('secret:')}:11  session.secret: environment variable GATEHOUSE_DEMO_SECRET is not set`);

  const missing = await runCli(['serve', '--config', `${dir}/nope.yaml`]);
  t.equal(missing.code, 2);
  t.match(missing.stderr, `${dir}/nope.yaml:1:1  file not found`);
});

t.test('check: every realm reached, what to register printed, exit 0 — and exit 1 when an issuer is down', async (t) => {
  const dir = tempDir(t);
  // only printed, never dialled: check starts no gateway
  const publicUrl = 'http://127.0.0.1:18080';
  const provider = await startDemoProvider({ port: 0, clients: [] });
  t.teardown(() => provider.close());
  const upstream = await startUpstream();
  t.teardown(() => upstream.close());

  const good = await runCli(['check', '--config', writeFile(dir, 'gateway.yaml', demoYaml(publicUrl, provider.issuer, upstream.url))], { env: SECRET });
  t.equal(good.code, 0, `exit 0\n${good.stdout}${good.stderr}`);
  const out = good.stdout;
  for (const [realm, callback, logout] of [
    ['agent', '/agent/login/authenticate-callback/1', '/agent'],
    ['user', '/login/authenticate-callback/2', '/'],
  ] as const) {
    const section = out.slice(out.indexOf(`for realm ${realm} `));
    t.ok(out.includes(`for realm ${realm} `), `a section for realm ${realm}`);
    t.match(section, new RegExp(`callback[^\\n]*${publicUrl}${callback}\\n`), `${realm}: the callback URL`);
    t.match(section, new RegExp(`logout[^\\n]*${publicUrl}${logout}\\n`), `${realm}: the logout URL`);
    t.match(section, new RegExp(`web origin[^\\n]*${publicUrl}\\n`), `${realm}: the web origin`);
  }
  t.match(out, /: ok/);

  // an issuer that cannot be reached: every connection to it is hung up on, without an answer
  const hangUp = createServer((socket) => socket.destroy());
  await new Promise<void>((resolve) => hangUp.listen(0, '127.0.0.1', resolve));
  t.teardown(() => hangUp.close());
  const downIssuer = `http://127.0.0.1:${(hangUp.address() as AddressInfo).port}`;
  const bad = await runCli(['check', '--config', writeFile(dir, 'down.yaml', demoYaml(publicUrl, downIssuer, upstream.url))], { env: SECRET });
  t.equal(bad.code, 1, 'an unreachable issuer exits 1');
  t.match(bad.stdout, downIssuer);
  t.match(bad.stdout, /FAILED/);
});
