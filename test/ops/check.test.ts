// `gatehouse check` as a doctor: every config problem at once with
// file:line:key (exit 2), providers reached (exit 0) or not (exit 1), the
// provider's clock, the warnings that bite later, what to register, --json.
import t from 'tap';
import { checkFile, type CheckReport } from '../../src/check/check.js';
import { startDemoProvider } from '../../src/demo/provider.js';
import { startUpstream } from '../helpers/upstream.js';
import { minimalYaml, runCli, startFakeProvider, tempDir, writeFile } from '../helpers/ops.js';

const BAD = `public_url: http://helpdesk.example.com
upstream:
  url: ftp://helpdesk.internal
  timout: 30s
session:
  secret: too-short
realms:
  agent:
    paths: [/agent]
    callback_path: /agent/login/authenticate-callback/1
    provider:
      issuer: https://idp.example.com/
      client_id: agent
`;

t.test('a bad file: every problem at once with file:line:key, exit 2', async (t) => {
  const file = writeFile(tempDir(t), 'gateway.yaml', BAD);
  const text = await runCli(['check', '--config', file]);
  t.equal(text.code, 2, 'bad configuration exits 2');
  for (const expected of [
    `${file}:1:1  public_url: must be https://`,
    `${file}:3:3  upstream.url: must be an http:// or https:// URL`,
    `${file}:4:3  upstream.timout: unknown key (did you mean "timeout"?)`,
    `${file}:6:3  session.secret: must be at least 32 characters`,
    `${file}:11:5  realms.agent.provider.client_secret: required`,
  ])
    t.ok(text.stderr.includes(expected), `names ${expected}`);
  t.match(text.stderr, /5 problems — gatehouse would not start \(exit 2\)/);
  t.notMatch(text.stderr, /too-short/, 'the secret itself is never echoed');

  const json = await runCli(['check', '--config', file, '--json']);
  t.equal(json.code, 2);
  const report = JSON.parse(json.stdout) as CheckReport;
  t.equal(report.ok, false);
  t.equal(report.exit_code, 2);
  t.same(
    report.problems.map((p) => `${p.at} ${p.key}`),
    [
      `${file}:1:1 public_url`,
      `${file}:3:3 upstream.url`,
      `${file}:4:3 upstream.timout`,
      `${file}:6:3 session.secret`,
      `${file}:11:5 realms.agent.provider.client_secret`,
    ],
  );
});

t.test('a missing file is a configuration problem too (exit 2)', async (t) => {
  const result = await runCli(['check', '--config', '/nonexistent/gateway.yaml']);
  t.equal(result.code, 2);
  t.match(result.stderr, /\/nonexistent\/gateway\.yaml:1:1 {2}file not found/);
});

t.test('the real provider is reached: discovery, JWKS, clock, what to register, exit 0', async (t) => {
  const provider = await startDemoProvider({
    port: 0,
    clients: [
      {
        client_id: 'agent-client',
        client_secret: 'agent-client-secret-0123456789',
        redirect_uris: ['http://127.0.0.1:8080/agent/login/authenticate-callback/1'],
      },
    ],
  });
  t.teardown(() => provider.close());
  const upstream = await startUpstream();
  t.teardown(() => upstream.close());
  const file = writeFile(tempDir(t), 'gateway.yaml', minimalYaml({ issuer: provider.issuer, upstream: upstream.url }));

  const json = await runCli(['check', '--config', file, '--json']);
  t.equal(json.code, 0, json.stdout);
  const report = JSON.parse(json.stdout) as CheckReport;
  t.equal(report.ok, true);
  t.same(report.problems, []);
  const [p] = report.providers;
  t.equal(p?.discovery, 'ok');
  t.equal(p?.jwks, 'ok');
  t.ok((p?.keys ?? 0) >= 1, 'counts the signing keys');
  t.ok(Math.abs(p?.clock_skew_seconds ?? 99) <= 2, 'same machine: no clock skew');
  t.equal(p?.end_session_endpoint, `${provider.issuer}/session/end`);
  t.same(report.upstream, { url: upstream.url, reachable: true, status: 200 });
  t.match(report.register[0], {
    realm: 'agent',
    client_id: 'agent-client',
    redirect_uri: 'http://127.0.0.1:8080/agent/login/authenticate-callback/1',
    post_logout_redirect_uri: 'http://127.0.0.1:8080/agent',
    web_origin: 'http://127.0.0.1:8080',
    backchannel_logout_uri: 'http://127.0.0.1:8080/.gatehouse/backchannel-logout/agent',
    client_auth: 'client_secret_basic',
  });

  const text = await runCli(['check', '--config', file]);
  t.equal(text.code, 0);
  t.match(text.stdout, /Allowed callback \/ redirect URI: +http:\/\/127\.0\.0\.1:8080\/agent\/login\/authenticate-callback\/1/);
  t.match(text.stdout, /discovery: ok {3}jwks: ok/);
  t.match(text.stdout, new RegExp(`${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: ok — 0 problems`));
});

t.test('an unreachable issuer fails the check with the URL it tried, exit 1', async (t) => {
  const gone = await startFakeProvider();
  await gone.close(); // a port that was just free: nothing listens there
  const file = writeFile(tempDir(t), 'gateway.yaml', minimalYaml({ issuer: gone.issuer }));
  const result = await runCli(['check', '--config', file]);
  t.equal(result.code, 1);
  t.match(result.stdout, new RegExp(`cannot load ${gone.issuer}/\\.well-known/openid-configuration`));
  t.match(result.stdout, /ECONNREFUSED/);
  t.match(result.stdout, /discovery: failed/);
  t.match(result.stdout, /FAILED — 1 problem/);
});

function byKey(report: CheckReport, key: string): string {
  return [...report.problems, ...report.warnings, ...report.notes]
    .filter((f) => f.key === key)
    .map((f) => `${f.at ?? ''} ${f.message} ${f.fix ?? ''}`)
    .join('\n');
}

t.test('warnings that bite later, each pointing at its key', async (t) => {
  const provider = await startFakeProvider({ document: { end_session_endpoint: undefined } });
  t.teardown(() => provider.close());
  const yaml = `public_url: https://helpdesk.example.com
upstream:
  url: http://127.0.0.1:9
session:
  secret: a-single-secret-of-at-least-32-characters
realms:
  agent:
    paths: [/agent]
    callback_path: /agent
    provider:
      issuer: ${provider.issuer}
      client_id: agent-client
      client_secret: agent-client-secret-0123456789
      scopes: [openid, profile]
    allow:
      email_domains: [example.com]
`;
  const file = writeFile(tempDir(t), 'gateway.yaml', yaml);
  const report = await checkFile(file, { timeoutMs: 2000 });
  t.equal(report.exit_code, 0, 'warnings alone do not fail the check');
  const proxy = byKey(report, 'public_url');
  t.match(proxy, `${file}:1:1`);
  t.match(proxy, /redirect loop/);
  t.match(proxy, /trusted_proxies: \[/, 'says exactly what to set');
  t.match(report.notes.find((n) => n.key === 'session.secret')?.message, /write it as a list/, 'one secret: a note about rotation, not a warning');
  t.notOk(report.warnings.some((w) => w.key === 'session.secret'));
  t.match(byKey(report, 'realms.agent.callback_path'), /entry page of realm agent/);
  t.match(byKey(report, 'realms.agent.callback_path'), `${file}:9:20`);
  t.match(byKey(report, 'realms.agent.provider.scopes'), /lack "email" while allow\.email_domains is set/);
  t.match(byKey(report, 'realms.agent.provider.issuer'), /no end_session_endpoint/);
  t.match(byKey(report, 'upstream.url'), /cannot be reached/);
});

t.test("the provider's clock: far off fails, a little off warns", async (t) => {
  const ahead = await startFakeProvider({ dateOffsetMs: 5 * 60_000 });
  t.teardown(() => ahead.close());
  const upstream = await startUpstream();
  t.teardown(() => upstream.close());
  const dir = tempDir(t);
  const report = await checkFile(writeFile(dir, 'far.yaml', minimalYaml({ issuer: ahead.issuer, upstream: upstream.url })));
  t.equal(report.exit_code, 1);
  t.ok(Math.abs((report.providers[0]?.clock_skew_seconds ?? 0) - 300) <= 2, 'measured from the Date header');
  t.match(
    report.problems.map((p) => p.message).join('\n'),
    /(299|300|301)(\.\d)? s ahead of this machine's: more than the 60 s tolerance.*GH_ID_TOKEN_IAT_FUTURE/,
  );

  const near = await startFakeProvider({ dateOffsetMs: -20_000 });
  t.teardown(() => near.close());
  const warned = await checkFile(writeFile(dir, 'near.yaml', minimalYaml({ issuer: near.issuer, upstream: upstream.url })));
  t.equal(warned.exit_code, 0);
  t.match(warned.warnings.map((w) => w.message).join('\n'), /s behind this machine's; sign-ins fail once it passes 60 s/);
});

t.test('a JWKS that does not answer fails the check', async (t) => {
  const provider = await startFakeProvider({ jwksStatus: 500 });
  t.teardown(() => provider.close());
  const report = await checkFile(writeFile(tempDir(t), 'gateway.yaml', minimalYaml({ issuer: provider.issuer })));
  t.equal(report.exit_code, 1);
  t.equal(report.providers[0]?.discovery, 'ok');
  t.equal(report.providers[0]?.jwks, 'failed');
  t.match(report.providers[0]?.error, /JWKS .*\/jwks answered HTTP 500/);
});

t.test('what the provider does not support, against what the realm asks for', async (t) => {
  const provider = await startFakeProvider({
    document: { token_endpoint_auth_methods_supported: ['client_secret_post'], scopes_supported: ['openid', 'email'], claims_supported: ['sub', 'email'] },
  });
  t.teardown(() => provider.close());
  const file = writeFile(
    tempDir(t),
    'gateway.yaml',
    minimalYaml({ issuer: provider.issuer, realmExtra: '      scopes: [openid, email, groups]\n    allow:\n      claims:\n        groups: [agents]\n' }),
  );
  const report = await checkFile(file, { timeoutMs: 2000 });
  t.match(byKey(report, 'realms.agent.provider.client_auth'), /does not advertise client_secret_basic.*client_auth: client_secret_post/s);
  t.match(byKey(report, 'realms.agent.provider.scopes'), /scope\(s\) groups/);
  t.match(byKey(report, 'realms.agent.allow.claims.groups'), /claim "groups"/);
  // issue 15, item 6: providers do not list custom claims in claims_supported; that is information, not a warning
  t.match(report.notes.find((n) => n.key === 'realms.agent.allow.claims.groups')?.message, /Providers usually list only standard claims there/);
  t.notOk(report.warnings.some((w) => w.key === 'realms.agent.allow.claims.groups'));
});
