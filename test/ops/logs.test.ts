// Logs an operator reads at 3 a.m.: JSON lines with a request id that is also
// sent upstream (a valid inbound X-Request-Id is kept, anything else replaced),
// an access line per forwarded request when log.access is on (path without the
// query), one audit line per sign-in, sign-out, refusal and failed sign-in with
// realm, subject, reason and client address — and no secret anywhere.
import t from 'tap';
import { fetchWithJar, signOut } from '../helpers/browserless.js';
import { ALICE, BOB, NAVIGATION, startTestStack } from '../helpers/stack.js';
import { minimalYaml, spawnServe, tempDir, writeFile } from '../helpers/ops.js';

const cookies0 = (jar: { all(): Array<{ name: string; value: string }> }) => jar.all();
const withAccessLog = (yaml: string): string => yaml.replace(/^log:\n/m, 'log:\n  access: true\n');

t.test('request id kept or replaced, sent upstream, and in the access line', async (t) => {
  const stack = await startTestStack({ editYaml: withAccessLog });
  t.teardown(() => stack.close());
  const { jar } = await stack.signIn('/agent/', ALICE);

  const kept = await fetchWithJar(`${stack.publicUrl}/agent/tickets/7?token=do-not-log-me`, { jar, headers: { 'x-request-id': 'lb-4f2a:9c.1_x' } });
  t.equal(kept.status, 200);
  const seenKept = stack.upstream.requests.at(-1)!;
  t.equal(seenKept.headers['x-request-id'], 'lb-4f2a:9c.1_x', 'a valid inbound id is kept and sent upstream');

  for (const bad of ['has spaces in it', 'x'.repeat(65), 'semi;colon']) {
    await fetchWithJar(`${stack.publicUrl}/agent/tickets/8`, { jar, headers: { 'x-request-id': bad } });
    const sent = stack.upstream.requests.at(-1)!.headers['x-request-id'];
    t.not(sent, bad, `an invalid id (${bad.slice(0, 12)}…) is replaced`);
    t.match(sent, /^[0-9a-f]{8}-[0-9a-z]+$/, 'by one of our own');
  }
  const none = await fetchWithJar(`${stack.publicUrl}/agent/tickets/9`, { jar });
  t.equal(none.status, 200);
  const generated = stack.upstream.requests.at(-1)!.headers['x-request-id'] as string;
  t.match(generated, /^[0-9a-f]{8}-[0-9a-z]+$/, 'no inbound id: one is made');

  const access = stack.logs.lines.filter((l) => l.access === true);
  const line = access.find((l) => l.requestId === 'lb-4f2a:9c.1_x');
  t.match(line, { level: 30, realm: 'agent', method: 'GET', path: '/agent/tickets/7', status: 200, msg: 'request' }, 'one access line with the request id');
  t.type(line?.durationMs, 'number');
  t.equal(line?.ip, '127.0.0.1');
  t.ok(
    access.some((l) => l.requestId === generated),
    'the generated id is the one logged',
  );
  t.notMatch(stack.logs.text(), /do-not-log-me/, 'the query string is never logged');
  t.equal(access.length, stack.upstream.requests.length, 'exactly one access line per forwarded request');
});

t.test('access log off (the default): no access lines', async (t) => {
  const stack = await startTestStack();
  t.teardown(() => stack.close());
  const { jar } = await stack.signIn('/agent/', ALICE);
  await fetchWithJar(`${stack.publicUrl}/agent/tickets/1`, { jar });
  t.ok(stack.upstream.requests.length > 0);
  t.equal(stack.logs.lines.filter((l) => l.access === true).length, 0);
});

t.test('audit lines: sign-in, refusal, failed sign-in, sign-out — realm, subject, reason, client address', async (t) => {
  const stack = await startTestStack({ logLevel: 'trace' });
  t.teardown(() => stack.close());
  const audit = (kind: string) => stack.logs.lines.filter((l) => l.audit === kind);

  const alice = await stack.signIn('/agent/', ALICE);
  t.match(audit('sign-in')[0], { realm: 'agent', sub: 'user-alice', ip: '127.0.0.1', level: 30 });
  t.ok(
    cookies0(alice.jar).some((c) => c.name === stack.cookieName('agent')),
    'signed in',
  );
  t.type(audit('sign-in')[0]?.requestId, 'string');

  // bob is a customer: signed in at /, refused in the agent realm by its allow rules
  const bob = await stack.signIn('/', BOB);
  const refused = await stack.signIn('/agent/', BOB, bob.jar);
  t.equal(refused.final.status, 403, 'refused by the agent realm');
  const refusals = [...audit('sign-in-failed'), ...audit('refusal')];
  t.ok(
    refusals.some((l) => l.realm === 'agent' && l.sub === 'user-bob' && l.reason === 'GH_ALLOW_CLAIM' && l.ip === '127.0.0.1'),
    'the refusal names realm, subject, reason and address',
  );

  // a forged callback: no login attempt for this state
  const forged = await fetchWithJar(
    `${stack.publicUrl}/agent/login/authenticate-callback/1?code=abc&state=forged-state-value&iss=${encodeURIComponent(stack.provider.issuer)}`,
    { headers: { ...NAVIGATION } },
  );
  t.equal(forged.status, 400);
  t.ok(
    audit('sign-in-failed').some((l) => l.realm === 'agent' && l.reason === 'GH_STATE_MISMATCH' && l.ip === '127.0.0.1'),
    JSON.stringify(audit('sign-in-failed')),
  );

  const cookies = alice.jar.all();
  await signOut(`${stack.publicUrl}/agent/logout`, { jar: alice.jar });
  t.match(audit('sign-out')[0], { realm: 'agent', sub: 'user-alice', ip: '127.0.0.1' });

  // nothing secret in any line, even at trace level
  const text = stack.logs.text();
  for (const cookie of cookies) t.notOk(cookie.value.length > 8 && text.includes(cookie.value), `cookie ${cookie.name} is not logged`);
  t.notMatch(text, /demo-agent-secret|demo-user-secret/, 'client secrets are not logged');
  t.notMatch(text, /eyJ[A-Za-z0-9_-]{10,}\.eyJ/, 'no JWT (ID token, assertion) is logged');
});

t.test('log.format: pretty is for people, not JSON', async (t) => {
  const dir = tempDir(t);
  const file = writeFile(
    dir,
    'gateway.yaml',
    minimalYaml({ issuer: 'http://127.0.0.1:9', extra: `listen:\n  host: 127.0.0.1\n  port: 0\nlog:\n  format: pretty\n` }),
  );
  const serve = spawnServe(file);
  t.teardown(() => serve.kill());
  const line = await serve.waitForLog((l) => typeof l.raw === 'string' && (l.raw as string).includes('gatehouse listening'));
  t.notOk(String(line.raw).trim().startsWith('{'), 'a human-readable line');
  serve.child.kill('SIGTERM');
  t.equal((await serve.exited).code, 0);
});
