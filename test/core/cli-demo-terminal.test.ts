// Issue 15, item 10: the demo's terminal reads as one banner in words (no
// JSON log lines, each start-up warning once), and serve logs the
// untrusted-terminator warning once, in one wording.
import t from 'tap';
import { spawn } from 'node:child_process';
import { claimPort } from '../helpers/ports.js';
import { startDemoProvider } from '../../src/demo/provider.js';
import { CLI, cleanEnv, ensureBuilt, minimalYaml, spawnServe, tempDir, writeFile } from '../helpers/ops.js';

t.test('the demo terminal: one banner in words, no JSON lines, each warning once', async (t) => {
  ensureBuilt();
  const port = claimPort().port;
  const child = spawn(process.execPath, [CLI, 'demo'], { env: { ...cleanEnv(), GATEHOUSE_DEMO_PORT: String(port) }, stdio: ['ignore', 'pipe', 'pipe'] });
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (c: Buffer) => {
      stdout += c.toString('utf8');
      if (stdout.includes('Press Ctrl-C to stop.\n')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`demo exited ${code}: ${stderr}`)));
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  child.kill('SIGINT');
  t.equal(await exited, 0, 'Ctrl-C stops it with exit 0');
  const banner = stdout.slice(0, stdout.indexOf('Press Ctrl-C to stop.\n') + 'Press Ctrl-C to stop.\n'.length);
  // the provider and the helpdesk listen on ports of their own choosing
  const issuer = /OpenID Provider: +(http:\/\/127\.0\.0\.1:\d+)\n/.exec(banner)?.[1];
  const helpdesk = /no identity\): (http:\/\/127\.0\.0\.1:\d+)\n/.exec(banner)?.[1];
  t.equal(
    banner,
    [
      'Gatehouse demo is running (loopback only):',
      `  helpdesk as an agent:  http://127.0.0.1:${port}/agent      sign in as alice / alice-demo`,
      `  helpdesk as a user:    http://127.0.0.1:${port}/           sign in as bob / bob-demo`,
      `  OpenID Provider:       ${issuer}`,
      `  demo helpdesk (direct, no identity): ${helpdesk}`,
      `  gateway endpoints:     http://127.0.0.1:${port}/.gatehouse/readyz  http://127.0.0.1:${port}/.gatehouse/jwks.json`,
      'At start, the gateway noted:',
      `  warning: public_url http://127.0.0.1:${port} is plain http on loopback: cookies are not Secure. Development only.`,
      '  warning: identity.signing.key_file is not set: the assertion key was generated at start and changes on restart. Set key_file in production.',
      'Press Ctrl-C to stop.',
      '',
    ].join('\n'),
  );
  t.notMatch(`${stdout}${stderr}`, /^\{/m, 'no JSON log line anywhere in the terminal');
  t.equal(stderr, '', 'nothing else was written');
});

t.test('serve behind an untrusted TLS terminator: the warning once, in one wording', async (t) => {
  const provider = await startDemoProvider({ port: 0, clients: [] });
  t.teardown(() => provider.close());
  const file = writeFile(
    tempDir(t),
    'gateway.yaml',
    minimalYaml({ issuer: provider.issuer, publicUrl: 'https://helpdesk.example.com', extra: 'listen: {host: 127.0.0.1, port: 0}\n' }),
  );
  const serve = spawnServe(file);
  t.teardown(() => serve.kill());
  const mentionsTrustedProxies = (l: { msg?: unknown; raw?: unknown }): boolean => /trusted_proxies/.test(String(l.msg ?? l.raw ?? ''));
  await serve.waitForLog((l) => l.msg === 'gatehouse listening');
  await serve.waitForLog(mentionsTrustedProxies);
  // counted once the process (every worker of a cluster, workers: auto) has exited: a second line would be in by then
  serve.child.kill('SIGTERM');
  await serve.exited;
  const mentions = serve.lines.filter(mentionsTrustedProxies);
  t.equal(mentions.length, 1, `one start-up line about trusted_proxies:\n${mentions.map((l) => l.msg).join('\n')}`);
  t.match(mentions[0]?.msg, /redirect loop/);
});
