// /.gatehouse/auth asked directly, as a proxy would: who may ask, how the
// original request must be named, and each answer of CONTRACT.md "Forward-auth"
// in both dialects (nginx's X-Original-*, Caddy's and Traefik's X-Forwarded-*).
// The whole path through a real nginx is nginx.test.ts; here each answer's exact shape.
// (Answers that need a config of their own: endpoint-config.test.ts.)
import t from 'tap';
import { request } from 'undici';
import { decodeJwt } from 'jose';
import { ALICE, BOB, NAVIGATION, rawRequest, startTestStack, type TestStack } from '../helpers/stack.js';
import { DEMO_ACCOUNTS } from '../../src/demo/provider.js';

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

const DAVE = { username: 'dave', password: 'dave-demo', sub: 'user-dave', email: 'dave@example.com', email_verified: true, name: '', groups: [] as string[] };
let shared: TestStack;
t.before(async () => {
  shared = await startTestStack({ editYaml: TRUST_LOOPBACK, accounts: [...DEMO_ACCOUNTS, DAVE] });
});
t.teardown(() => shared.close());

t.test('the original request must be named exactly once, in one dialect', async (t) => {
  const stack = shared;
  const flow = await stack.signIn('/agent/', ALICE);
  const cookie = `${stack.cookieName('agent')}=${flow.jar.get(stack.publicUrl, stack.cookieName('agent'))}`;
  const host = new URL(stack.publicUrl).host;
  const base = { host, 'x-forwarded-host': host, cookie };
  const cases: Array<[string, string[]]> = [
    ['nothing named', []],
    ['nginx: the URI without the method', ['X-Original-URI', '/agent/']],
    ['forwarded: the method without the URI', ['X-Forwarded-Method', 'GET']],
    [
      "both dialects (a client's own X-Original-URI passed on by Caddy)",
      ['X-Forwarded-Uri', '/agent/', 'X-Forwarded-Method', 'GET', 'X-Original-URI', '/favicon.ico'],
    ],
    [
      "both dialects (a client's own X-Forwarded-Uri passed on by nginx)",
      ['X-Original-URI', '/agent/', 'X-Original-Method', 'GET', 'X-Forwarded-Uri', '/favicon.ico'],
    ],
    ['the URI twice', ['X-Original-URI', '/favicon.ico', 'X-Original-URI', '/agent/', 'X-Original-Method', 'GET']],
    ['a method that is not one', ['X-Original-URI', '/agent/', 'X-Original-Method', 'GET /x']],
  ];
  for (const [label, named] of cases) {
    const headers: string[] = [];
    for (const [k, v] of Object.entries(base)) headers.push(k, v);
    headers.push(...named);
    const res = await request(`${stack.publicUrl}/.gatehouse/auth`, { headers });
    const body = await res.body.text();
    t.equal(res.statusCode, 400, `${label}: refused (${res.statusCode})`);
    t.equal(JSON.parse(body).error, 'GH_FORWARD_AUTH_INCOMPLETE', `${label}: GH_FORWARD_AUTH_INCOMPLETE`);
    t.equal(res.headers['x-auth-subject'], undefined, `${label}: never an identity`);
  }
  t.ok(
    stack.logs.lines.some((l) => l.code === 'GH_FORWARD_AUTH_INCOMPLETE' && /both X-Original-URI/.test(String(l.detail))),
    'the log says what was wrong',
  );
});

t.test('signed in and allowed: 200, empty, every identity header (empty where none), no-store', async (t) => {
  // an account without name or groups: those headers are there, empty
  const stack = shared;
  const flow = await stack.signIn('/', { username: DAVE.username, password: DAVE.password });
  t.equal(flow.final.status, 200);
  const cookie = `${stack.cookieName('user')}=${flow.jar.get(stack.publicUrl, stack.cookieName('user'))}`;
  const before = stack.upstream.requests.length;
  for (const dialect of ['nginx', 'forwarded'] as const) {
    const res = await ask(stack, dialect, '/tickets/9?x=1', { cookie, ...NAVIGATION });
    t.equal(res.status, 200, `${dialect}: allowed`);
    t.equal(res.body, '', 'empty body');
    t.match(String(res.headers['cache-control']), /no-store/, 'never cached');
    for (const name of IDENTITY) t.ok(name in res.headers, `${dialect}: ${name} present`);
    t.equal(res.headers['x-auth-subject'], 'user-dave');
    t.equal(res.headers['x-auth-realm'], 'user');
    t.equal(res.headers['x-auth-groups'], '', 'no groups: present and empty');
    t.equal(decodeJwt(String(res.headers['x-auth-assertion'])).sub, 'user-dave');
    t.equal(res.headers['set-cookie'], undefined, 'nothing re-sealed');
  }
  t.equal(stack.upstream.requests.length, before, 'Gatehouse forwarded nothing itself');
});

t.test("not signed in: nginx gets 401 with X-Gatehouse-Login; Caddy/Traefik get the proxy mode's answer", async (t) => {
  const stack = shared;
  const origin = stack.publicUrl;

  const nav = await ask(stack, 'nginx', '/agent/tickets?q=1', { ...NAVIGATION });
  t.equal(nav.status, 401, 'nginx, navigation: 401 (auth_request passes nothing else on)');
  const login = `${origin}/.gatehouse/login?realm=agent&rd=${encodeURIComponent('/agent/tickets?q=1')}`;
  t.equal(nav.headers['x-gatehouse-login'], login, 'X-Gatehouse-Login: absolute, returning to the original URI');
  t.equal(nav.headers['x-gatehouse-redirect'], login, 'and where error_page sends a navigation');
  t.match(String(nav.headers['www-authenticate']), /^Gatehouse realm="agent", login_url="/);
  t.match(String(nav.headers['cache-control']), /no-store/);

  const script = await ask(stack, 'nginx', '/agent/api/x', { ...XHR });
  t.equal(script.status, 401);
  t.equal(script.headers['x-gatehouse-login'], `${origin}/.gatehouse/login?realm=agent&rd=${encodeURIComponent('/agent/api/x')}`);
  t.equal(script.headers['x-gatehouse-redirect'], undefined, 'a script is never redirected');
  t.equal(JSON.parse(script.body).error, 'GH_NOT_SIGNED_IN');

  const caddyNav = await ask(stack, 'forwarded', '/agent/tickets', { ...NAVIGATION });
  t.equal(caddyNav.status, 302, 'Caddy/Traefik, navigation, login: automatic: 302 to the provider');
  t.ok(String(caddyNav.headers.location).startsWith(stack.provider.issuer), 'at the provider');
  t.ok(([] as string[]).concat(caddyNav.headers['set-cookie'] ?? []).length > 0, "with the sign-in attempt's cookie");
  t.match(String(caddyNav.headers['cache-control']), /no-store/);

  const button = await ask(stack, 'forwarded', '/tickets', { ...NAVIGATION });
  t.equal(button.status, 401, 'login: button: the sign-in page, as a 401 (a 2xx would let the request through)');
  t.match(button.body, /Sign in with Demo SSO/);

  const form = {
    ...NAVIGATION,
    'content-type': 'application/x-www-form-urlencoded',
    origin,
    referer: `${origin}/agent/tickets/7`,
    'sec-fetch-site': 'same-origin',
  };
  const back = `${origin}/.gatehouse/login?realm=agent&rd=${encodeURIComponent('/agent/tickets/7')}`;
  const nginxForm = await ask(stack, 'nginx', '/agent/tickets/7/reply', form, 'POST');
  t.equal(nginxForm.status, 401, 'nginx, a browser form POST: 401');
  t.equal(nginxForm.headers['x-gatehouse-redirect'], back, "sent to sign in and back to the form's page");
  const caddyForm = await ask(stack, 'forwarded', '/agent/tickets/7/reply', form, 'POST');
  t.equal(caddyForm.status, 303, 'Caddy/Traefik, a browser form POST: 303');
  t.equal(caddyForm.headers.location, back);

  const caddyScript = await ask(stack, 'forwarded', '/agent/api/x', { ...XHR });
  t.equal(caddyScript.status, 401, 'a script: 401 JSON');
  t.equal(JSON.parse(caddyScript.body).login_url, `${origin}/.gatehouse/login?realm=agent&rd=${encodeURIComponent('/agent/api/x')}`);
  t.equal(caddyScript.headers.location, undefined);
});

t.test('a public path: 200 naming no one (every identity header empty)', async (t) => {
  const stack = shared;
  for (const dialect of ['nginx', 'forwarded'] as const) {
    const pub = await ask(stack, dialect, '/favicon.ico', { 'x-auth-subject': 'user-alice' });
    t.equal(pub.status, 200, `${dialect}: public`);
    // present and empty, so a proxy that copies them (Caddy 2.6 writes a missing one as its placeholder's text) passes on no one
    t.same(
      IDENTITY.map((h) => pub.headers[h]),
      IDENTITY.map(() => ''),
      'every identity header, empty',
    );
  }
});

t.test("refusals of the request line: the proxy mode's, as 403 with the code for nginx", async (t) => {
  const stack = shared;
  const flow = await stack.signIn('/', BOB);
  const cookie = `${stack.cookieName('user')}=${flow.jar.get(stack.publicUrl, stack.cookieName('user'))}`;
  const cases: Array<[string, Record<string, string>, number, string]> = [
    ['/agent%2Ftickets', {}, 400, 'GH_BAD_PATH'],
    ['/tickets#x', {}, 400, 'GH_AMBIGUOUS_PATH'],
    ['/x/..;/agent/tickets', {}, 400, 'GH_AMBIGUOUS_PATH'],
    ['/%2Egatehouse/jwks.json', {}, 404, 'GH_NOT_FOUND'],
    // absolute-form, "*", nothing: no path (as the proxy mode refuses them)
    ['http://evil.example/agent/', {}, 400, 'GH_BAD_PATH'],
    ['*', {}, 400, 'GH_BAD_PATH'],
    ['', {}, 400, 'GH_BAD_PATH'],
    ['/tickets', { 'x-forwarded-host': 'evil.example' }, 421, 'GH_MISDIRECTED_REQUEST'],
    ['/.gatehouse/login?realm=user', {}, 403, 'GH_FORWARD_AUTH_RESERVED'],
    ['/login/authenticate-callback/2?code=x', {}, 403, 'GH_FORWARD_AUTH_RESERVED'],
    ['/logout', {}, 403, 'GH_FORWARD_AUTH_RESERVED'],
  ];
  for (const [uri, extra, status, code] of cases) {
    const caddy = await ask(stack, 'forwarded', uri, { cookie, ...XHR, ...extra });
    t.equal(caddy.status, status, `forwarded ${uri}: ${status}`);
    t.equal(JSON.parse(caddy.body).error, code, `forwarded ${uri}: ${code}`);
    const nginx = await ask(stack, 'nginx', uri, { cookie, ...XHR, ...extra });
    t.equal(nginx.status, 403, `nginx ${uri}: 403`);
    t.equal(nginx.headers['x-gatehouse-error'], code, `nginx ${uri}: X-Gatehouse-Error ${code}`);
    t.equal(nginx.headers['x-auth-subject'], undefined, `${uri}: no identity`);
  }
});

t.test('a WebSocket handshake from another origin is refused here too (cross-site WebSocket hijacking)', async (t) => {
  const stack = shared;
  const flow = await stack.signIn('/', BOB);
  const cookie = `${stack.cookieName('user')}=${flow.jar.get(stack.publicUrl, stack.cookieName('user'))}`;
  const host = new URL(stack.publicUrl).host;
  const asked = (origin: string) =>
    rawRequest(stack.publicUrl, 'GET', '/.gatehouse/auth', [
      ['X-Forwarded-Host', host],
      ['X-Original-URI', '/ws'],
      ['X-Original-Method', 'GET'],
      ['Cookie', cookie],
      // the handshake's own headers, as nginx passes them on (its Connection is nginx's own)
      ['Upgrade', 'websocket'],
      ['Sec-WebSocket-Version', '13'],
      ['Sec-WebSocket-Key', 'dGhlIHNhbXBsZSBub25jZQ=='],
      ['Origin', origin],
    ]);
  const evil = await asked('https://evil.example');
  t.equal(evil.status, 403);
  t.equal(evil.headers['x-gatehouse-error'], 'GH_CSRF');
  t.equal(evil.headers['x-auth-subject'], undefined);
  const same = await asked(stack.publicUrl);
  t.equal(same.status, 200, 'from the site itself: allowed');
  t.equal(same.headers['x-auth-subject'], 'user-bob');
});
