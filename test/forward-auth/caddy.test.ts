// Forward-auth through a real Caddy in front (docs/snippets/caddy-forward-auth.Caddyfile
// as documented): sign-in against the real provider through Caddy, the identity
// at the upstream, a script's 401, forged identity headers, a re-sealed session
// cookie reaching the browser, public paths, sign-out. What the upstream
// received is the ground truth, not what Gatehouse answered Caddy.
import t from 'tap';
import { decodeJwt } from 'jose';
import WebSocket from 'ws';
import { fetchWithJar, signOut, CookieJar } from '../helpers/browserless.js';
import { ALICE, BOB, NAVIGATION, rawRequest, testClock } from '../helpers/stack.js';
import { startCaddyForwardAuth, type Caddy } from '../helpers/caddy.js';
import { startForwardAuthStack, type ForwardAuthStack } from '../helpers/forward-auth-stack.js';

const XHR = { accept: 'application/json', 'x-requested-with': 'XMLHttpRequest' };
const IDENTITY = ['x-auth-realm', 'x-auth-subject', 'x-auth-email', 'x-auth-name', 'x-auth-groups', 'x-auth-assertion'];

const clock = testClock();
let stack: ForwardAuthStack<Caddy>;
t.before(async () => {
  stack = await startForwardAuthStack({ proxy: startCaddyForwardAuth, now: clock.now });
});
t.teardown(() => stack.close());

function arrivedSince(from: number) {
  return stack.upstream.requests.slice(from);
}

/** Every X-Auth-* header (any spelling) the upstream received, with its value(s). */
function identityOf(request: { rawHeaders: string[] }): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (let i = 0; i < request.rawHeaders.length; i += 2) {
    const name = request.rawHeaders[i]!.toLowerCase();
    if (!/^x[-_]auth[-_]/.test(name)) continue;
    out[name] ??= [];
    out[name].push(request.rawHeaders[i + 1]!);
  }
  return out;
}

t.test('a browser signs in through Caddy, and the helpdesk receives the identity Caddy was given', async (t) => {
  clock.reset();
  const flow = await stack.signIn('/agent/tickets/7?tab=open', ALICE);
  t.equal(flow.final.status, 200, `signed in and served (${flow.final.status} ${flow.final.body.slice(0, 200)})`);
  t.equal(flow.final.url, `${stack.publicUrl}/agent/tickets/7?tab=open`, 'back at the page asked for, query kept');
  t.ok(
    flow.hops.some((hop) => hop.startsWith(`${stack.publicUrl}/agent/login/authenticate-callback/1?`)),
    'the callback came back through Caddy',
  );
  const echoed = JSON.parse(flow.final.body) as { url: string; headers: Record<string, string> };
  t.equal(echoed.url, '/agent/tickets/7?tab=open', 'the upstream got the path asked for');
  t.equal(echoed.headers['x-auth-realm'], 'agent');
  t.equal(echoed.headers['x-auth-subject'], 'user-alice');
  t.equal(echoed.headers['x-auth-email'], 'alice@example.com');
  t.equal(echoed.headers['x-auth-name'], 'Alice Agent');
  t.equal(echoed.headers['x-auth-groups'], 'helpdesk-agents');
  const assertion = decodeJwt(echoed.headers['x-auth-assertion']!);
  t.equal(assertion.sub, 'user-alice', 'the signed assertion names her');
  t.equal(assertion.iss, stack.publicUrl, "issued by public_url (Caddy's address)");
  t.equal(assertion.realm, 'agent');

  const again = await fetchWithJar(`${stack.publicUrl}/agent/queue`, { jar: flow.jar, headers: { ...NAVIGATION } });
  t.equal(again.status, 200);
  t.equal((JSON.parse(again.body) as { headers: Record<string, string> }).headers['x-auth-subject'], 'user-alice');
});

t.test('not signed in: a navigation goes to the provider (or the sign-in page), a script gets 401 JSON; nothing reaches the helpdesk', async (t) => {
  clock.reset();
  const before = stack.upstream.requests.length;
  const nav = await fetchWithJar(`${stack.publicUrl}/agent/tickets?q=a%20b`, { headers: { ...NAVIGATION } });
  t.equal(nav.status, 302, 'the agent realm (login: automatic): a navigation is redirected');
  t.ok(String(nav.headers.location).startsWith(stack.provider.issuer), `to the provider (${String(nav.headers.location).slice(0, 80)})`);
  t.match(String(nav.headers['set-cookie'] ?? ''), /gatehouse-state|gatehouse/, "with the sign-in attempt's cookie, which Caddy passed on");

  const page = await fetchWithJar(`${stack.publicUrl}/tickets`, { headers: { ...NAVIGATION } });
  t.equal(page.status, 401, 'the user realm (login: button): the sign-in page, as a 401');
  t.match(page.body, /Sign in with Demo SSO/, 'the button page');

  const script = await fetchWithJar(`${stack.publicUrl}/agent/api/tickets`, { headers: { ...XHR, referer: `${stack.publicUrl}/agent/tickets/3` } });
  t.equal(script.status, 401, 'a script gets 401, never a redirect');
  t.equal(script.headers.location, undefined);
  const body = JSON.parse(script.body) as { error: string; login_url: string };
  t.equal(body.error, 'GH_NOT_SIGNED_IN', "the proxy mode's JSON");
  t.equal(script.headers['x-gatehouse-login'], body.login_url, 'X-Gatehouse-Login names where to sign in');
  t.match(String(script.headers['www-authenticate']), /^Gatehouse realm="agent"/);
  t.same(arrivedSince(before), [], 'the helpdesk received none of these');
});

t.test('identity headers the client sends never reach the helpdesk: signed in, signed out, on a public path', async (t) => {
  clock.reset();
  // the user realm is login: button: its sign-in page is a 401 through the proxy, so start the sign-in as its button does
  const bob = await stack.signIn('/.gatehouse/login?realm=user&rd=/tickets', BOB);
  const cookie = bob.jar.cookieHeader(`${stack.publicUrl}/`)!;
  const forged: Array<[string, string]> = [
    ['X-Auth-Subject', 'user-alice'],
    ['X-Auth-Realm', 'agent'],
    ['X-Auth-Groups', 'helpdesk-agents'],
    ['X-Auth-Email', 'alice@example.com'],
    ['X-Auth-Name', 'Alice'],
    ['X-Auth-Assertion', 'forged.jwt.value'],
    ['X-Auth-Extra', 'x'],
    ['x-auth-subject', 'again'],
    ['X_Auth_Subject', 'user-alice'],
    ['X_Auth_Groups', 'helpdesk-agents'],
    ['X-AUTH-ROLE', 'admin'],
  ];
  const before = stack.upstream.requests.length;
  const signedIn = await rawRequest(stack.publicUrl, 'GET', '/tickets/1', [['Cookie', cookie], ['Accept', 'application/json'], ...forged]);
  t.equal(signedIn.status, 200);
  const publicPath = await rawRequest(stack.publicUrl, 'GET', '/favicon.ico', forged);
  t.equal(publicPath.status, 200, 'a public path is served without a session');
  const signedOut = await rawRequest(stack.publicUrl, 'GET', '/tickets/2', [['Accept', 'application/json'], ...forged]);
  t.equal(signedOut.status, 401);
  const [first, second, ...rest] = arrivedSince(before);
  t.same(rest, [], 'the signed-out request never arrived');
  t.same(
    identityOf(first!),
    {
      'x-auth-realm': ['user'],
      'x-auth-subject': ['user-bob'],
      'x-auth-email': ['bob@example.com'],
      'x-auth-name': ['Bob Customer'],
      'x-auth-groups': ['customers'],
      'x-auth-assertion': [String(first!.headers['x-auth-assertion'])],
    },
    "signed in: exactly Gatehouse's identity headers, one each, none of the client's",
  );
  t.equal(decodeJwt(String(first!.headers['x-auth-assertion'])).sub, 'user-bob');
  const anonymous = identityOf(second!);
  t.ok(
    Object.values(anonymous)
      .flat()
      .every((value) => value === ''),
    `a public path: no identity at all (${JSON.stringify(anonymous)})`,
  );
  t.same(Object.keys(anonymous).sort(), [...IDENTITY].sort(), 'every identity header present and empty, so nothing else can stand in its place');
});

t.test('a session Gatehouse seals again reaches the browser through Caddy, and keeps the person signed in past idle_timeout', async (t) => {
  clock.reset();
  const flow = await stack.signIn('/agent', ALICE);
  const name = stack.cookieName('agent');
  const sealedAtSignIn = flow.jar.get(`${stack.publicUrl}/agent`, name);
  t.ok(sealedAtSignIn, 'signed in');
  // the demo's idle_timeout is 1h: 40 minutes on, the session is due a touch
  clock.advance(40 * 60_000);
  const touched = await fetchWithJar(`${stack.publicUrl}/agent/queue`, { jar: flow.jar, headers: { ...XHR } });
  t.equal(touched.status, 200);
  const sealedAgain = flow.jar.get(`${stack.publicUrl}/agent`, name);
  t.not(sealedAgain, sealedAtSignIn, "the re-sealed cookie came back with the helpdesk's answer");
  // 80 minutes after sign-in, 40 after the touch: signed in only with the re-sealed value
  clock.advance(40 * 60_000);
  const later = await fetchWithJar(`${stack.publicUrl}/agent/queue`, { jar: flow.jar, headers: { ...XHR } });
  t.equal(later.status, 200, 'still signed in');
  t.equal((JSON.parse(later.body) as { headers: Record<string, string> }).headers['x-auth-subject'], 'user-alice');
  clock.reset();
});

t.test("the helpdesk's own cookies and Gatehouse's re-sealed one both reach the browser", async (t) => {
  clock.reset();
  const flow = await stack.signIn('/agent', ALICE);
  clock.advance(40 * 60_000);
  const res = await rawRequest(stack.publicUrl, 'GET', `/agent/x?respond-header=${encodeURIComponent('Set-Cookie:helpdesk=1; Path=/')}`, [
    ['Cookie', flow.jar.cookieHeader(`${stack.publicUrl}/agent`)!],
    ['Accept', 'application/json'],
  ]);
  t.equal(res.status, 200);
  const cookies = res.headers['set-cookie'] as string[];
  t.ok(
    cookies.some((c) => c.startsWith('helpdesk=1')),
    "the helpdesk's cookie",
  );
  t.ok(
    cookies.some((c) => c.startsWith(`${stack.cookieName('agent')}=`)),
    'and the session cookie, each its own Set-Cookie line',
  );
  clock.reset();
});

t.test('sign-out through Caddy ends the session: the next request is not signed in and never reaches the helpdesk', async (t) => {
  clock.reset();
  const jar = new CookieJar();
  await stack.signIn('/agent', ALICE, jar);
  const out = await signOut(`${stack.publicUrl}/agent/logout`, { jar });
  t.ok(out.final.status < 500, `signed out (${out.final.status} at ${out.final.url})`);
  t.ok(
    out.hops.some((hop) => hop.startsWith(stack.provider.issuer)),
    "by way of the provider's end_session_endpoint",
  );
  t.equal(jar.get(`${stack.publicUrl}/agent`, stack.cookieName('agent')), undefined, 'the session cookie is gone');
  const before = stack.upstream.requests.length;
  const script = await fetchWithJar(`${stack.publicUrl}/agent/api/me`, { jar, headers: { ...XHR } });
  t.equal(script.status, 401, 'not signed in any more');
  t.same(arrivedSince(before), [], 'nothing reached the helpdesk');
});

t.test("Gatehouse's own paths are served by Gatehouse through Caddy, never by the helpdesk", async (t) => {
  const before = stack.upstream.requests.length;
  const jwks = await fetchWithJar(`${stack.publicUrl}/.gatehouse/jwks.json`);
  t.equal(jwks.status, 200);
  t.ok((JSON.parse(jwks.body) as { keys: unknown[] }).keys.length > 0, 'the JWKS');
  const health = await fetchWithJar(`${stack.publicUrl}/.gatehouse/healthz`);
  t.equal(health.status, 200);
  const logoutPage = await fetchWithJar(`${stack.publicUrl}/logout`, { headers: { ...NAVIGATION } });
  t.ok(logoutPage.status < 500, 'a logout path');
  const callback = await fetchWithJar(`${stack.publicUrl}/login/authenticate-callback/2?code=x&state=y`, { headers: { ...NAVIGATION } });
  t.ok(callback.status >= 400 && callback.status < 500, `a callback with a made-up state is refused by Gatehouse (${callback.status})`);
  t.same(arrivedSince(before), [], 'the helpdesk received none of them');
});

/** Open a WebSocket through the proxy: its first message (the upstream's view of the handshake), or the refusal's status. */
function webSocket(path: string, headers: Record<string, string>): Promise<{ message?: Record<string, string>; status?: number }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${stack.publicUrl.replace(/^http/, 'ws')}${path}`, { headers });
    ws.once('message', (data) => {
      ws.close();
      resolve({ message: JSON.parse(String(data)) as Record<string, string> });
    });
    ws.once('unexpected-response', (_req, res) => {
      res.resume();
      resolve({ status: res.statusCode! });
    });
    ws.once('error', reject);
  });
}

t.test('WebSockets through Caddy: the handshake is judged like any request (Caddy asks about it as a handshake itself)', async (t) => {
  clock.reset();
  const flow = await stack.signIn('/agent', ALICE);
  const cookie = flow.jar.cookieHeader(`${stack.publicUrl}/agent`)!;
  const before = stack.upstream.requests.length;
  const open = await webSocket('/agent/ws', { cookie, origin: stack.publicUrl });
  t.equal(open.status, undefined, `signed in: upgraded (${open.status})`);
  t.equal(open.message?.['x-auth-subject'], 'user-alice', "the helpdesk's WebSocket carries her identity");
  t.equal(open.message?.['x-auth-realm'], 'agent');

  const anonymous = await webSocket('/agent/ws', { origin: stack.publicUrl });
  t.equal(anonymous.status, 401, 'not signed in: refused');
  const crossSite = await webSocket('/agent/ws', { cookie, origin: 'https://evil.example' });
  t.equal(crossSite.status, 403, 'a page of another origin (cross-site WebSocket hijacking): refused, however signed in');
  const upgrades = stack.upstream.requests.slice(before).filter((r) => r.upgrade);
  t.equal(upgrades.length, 1, 'only the signed-in, same-origin handshake reached the helpdesk');
});
