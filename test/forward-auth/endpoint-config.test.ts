// /.gatehouse/auth asked directly, as a proxy would (as endpoint.test.ts), for
// the answers that need a gateway of their own: an untrusted peer, a clock that
// moves, allow rules reloaded under a session, an https public_url.
import t from 'tap';
import { request } from 'undici';
import { ALICE, BOB, NAVIGATION, startTestStack, testClock, type TestStack } from '../helpers/stack.js';
import { demoYaml } from '../../src/demo/stack.js';
import { parseConfigText } from '../../src/config/load.js';

const TRUST_LOOPBACK = (yaml: string): string => `${yaml}trusted_proxies: [127.0.0.1/32]\n`;
const XHR = { accept: 'application/json', 'x-requested-with': 'XMLHttpRequest' };

interface Asked {
  status: number;
  headers: Record<string, string | string[]>;
  body: string;
}

/** Ask the endpoint about `uri` as nginx does (X-Original-*) or as Caddy/Traefik do (X-Forwarded-*). */
async function ask(stack: TestStack, dialect: 'nginx' | 'forwarded', uri: string, headers: Record<string, string> = {}, method = 'GET'): Promise<Asked> {
  const host = new URL(stack.publicUrl).host;
  const named = dialect === 'nginx' ? { 'x-original-uri': uri, 'x-original-method': method } : { 'x-forwarded-uri': uri, 'x-forwarded-method': method };
  const res = await request(`${stack.publicUrl}/.gatehouse/auth`, {
    headers: { host, 'x-forwarded-host': host, 'x-forwarded-proto': 'http', ...named, ...headers },
  });
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) out[k] = v;
  return { status: res.statusCode, headers: out, body: await res.body.text() };
}

const IDENTITY = ['x-auth-realm', 'x-auth-subject', 'x-auth-email', 'x-auth-name', 'x-auth-groups', 'x-auth-assertion'];

t.test('only a trusted proxy may ask: from anyone else 403, nothing judged', async (t) => {
  const stack = await startTestStack();
  t.teardown(() => stack.close());
  const flow = await stack.signIn('/agent/', ALICE);
  const cookie = `${stack.cookieName('agent')}=${flow.jar.get(stack.publicUrl, stack.cookieName('agent'))}`;
  for (const dialect of ['nginx', 'forwarded'] as const) {
    const res = await ask(stack, dialect, '/agent/tickets', { cookie, ...XHR });
    t.equal(res.status, 403, `${dialect}: refused`);
    t.equal(JSON.parse(res.body).error, 'GH_FORWARD_AUTH_UNTRUSTED');
    t.same(
      IDENTITY.filter((h) => h in res.headers),
      [],
      `${dialect}: no identity header at all`,
    );
    t.match(String(res.headers['cache-control']), /no-store/);
  }
  const hints = stack.logs.lines.filter((l) => l.code === 'GH_FORWARD_AUTH_UNTRUSTED');
  t.equal(hints.length, 1, 'said once per peer');
  t.equal(hints[0]?.hint, 'trusted_proxies: [127.0.0.1/32]', 'with the setting to add');
});

t.test('a re-sealed session comes back with the 200 (Set-Cookie), and the refreshed value works', async (t) => {
  const clock = testClock();
  const stack = await startTestStack({ editYaml: TRUST_LOOPBACK, now: clock.now });
  t.teardown(() => stack.close());
  const flow = await stack.signIn('/agent/', ALICE);
  const name = stack.cookieName('agent');
  const first = flow.jar.get(stack.publicUrl, name)!;
  clock.advance(2 * 60_000); // past the touch interval (idle_timeout 1h: a minute)
  const res = await ask(stack, 'nginx', '/agent/', { cookie: `${name}=${first}`, ...XHR });
  t.equal(res.status, 200);
  const lines = ([] as string[]).concat(res.headers['set-cookie'] ?? []);
  t.equal(lines.length, 1, 'one Set-Cookie line (the session fits one cookie)');
  t.match(lines[0], new RegExp(`^${name}=`), 'the session cookie, sealed again');
  const next = lines[0]!.slice(name.length + 1).split(';')[0]!;
  t.not(next, first, 'a new value');
  const again = await ask(stack, 'nginx', '/agent/', { cookie: `${name}=${next}`, ...XHR });
  t.equal(again.status, 200, 'the new value is signed in');
  t.equal(again.headers['x-auth-subject'], 'user-alice');
});

t.test('signed in but refused by the allow rules (after a reload): 403', async (t) => {
  const stack = await startTestStack({ editYaml: TRUST_LOOPBACK });
  t.teardown(() => stack.close());
  // Bob's user session, then a reload whose allow rules no longer let him in
  const bob = await stack.signIn('/', BOB);
  t.equal(bob.final.status, 200, 'Bob signed in');
  const cookie = `${stack.cookieName('user')}=${bob.jar.get(stack.publicUrl, stack.cookieName('user'))}`;
  const yaml = TRUST_LOOPBACK(
    demoYaml(stack.publicUrl, stack.provider.issuer, stack.upstreamUrl).replace(
      '    button_text: Sign in with Demo SSO\n',
      '    button_text: Sign in with Demo SSO\n    allow:\n      claims:\n        groups: [vip-customers]\n',
    ),
  );
  const secret = stack.config.session.secret;
  await stack.gateway.reload(parseConfigText(yaml, '(reloaded)', { GATEHOUSE_DEMO_SECRET: Array.isArray(secret) ? secret[0] : secret }).config);
  for (const dialect of ['nginx', 'forwarded'] as const) {
    const res = await ask(stack, dialect, '/tickets', { cookie, ...NAVIGATION });
    t.equal(res.status, 403, `${dialect}: refused by allow`);
    t.equal(res.headers['x-gatehouse-error'], 'GH_ALLOW_CLAIM');
    t.match(res.body, /GH_ALLOW_CLAIM/);
    t.equal(res.headers['x-auth-subject'], undefined, 'no identity');
  }
  t.ok(
    stack.logs.lines.some((l) => l.audit === 'refusal' && l.sub === 'user-bob'),
    'the refusal is audited',
  );
});

t.test('public_url is https: an original request over plain http is not let through', async (t) => {
  const stack = await startTestStack({ editYaml: (yaml) => TRUST_LOOPBACK(yaml.replace(/^public_url: http:/m, 'public_url: https:')) });
  t.teardown(() => stack.close());
  const host = new URL(stack.publicUrl).host;
  const asked = (proto: string, named: Record<string, string>) =>
    request(`${stack.publicUrl}/.gatehouse/auth`, { headers: { host, 'x-forwarded-host': host, 'x-forwarded-proto': proto, ...named, ...XHR } });
  const nginx = await asked('http', { 'x-original-uri': '/agent/x?y=1', 'x-original-method': 'GET' });
  await nginx.body.dump();
  t.equal(nginx.statusCode, 403, 'nginx: 403 (a redirect cannot pass through auth_request)');
  t.equal(nginx.headers['x-gatehouse-error'], 'GH_HTTPS_REQUIRED');
  const caddy = await asked('http', { 'x-forwarded-uri': '/agent/x?y=1', 'x-forwarded-method': 'GET' });
  await caddy.body.dump();
  t.equal(caddy.statusCode, 308, "Caddy/Traefik: the proxy mode's redirect to https");
  t.equal(caddy.headers.location, `https://${host}/agent/x?y=1`);
  const https = await asked('https', { 'x-original-uri': '/agent/x', 'x-original-method': 'GET' });
  await https.body.dump();
  t.equal(https.statusCode, 401, 'over https: judged (not signed in)');
});
