// Signed out: only a browser navigation (GET/HEAD, Accept text/html, not marked
// as a script request) is redirected to the provider. fetch/XHR, POST and PUT get
// 401 JSON with WWW-Authenticate and X-Gatehouse-Login — a redirect there would
// break the helpdesk's front end (a cross-origin redirect a script cannot follow).
import t from 'tap';
import { rawRequest, startTestStack } from '../helpers/stack.js';

const HTML = 'text/html,application/xhtml+xml;q=0.9,*/*;q=0.8';

t.test('navigation → 302 to the provider; anything else → 401 JSON', async (t) => {
  const stack = await startTestStack();
  t.teardown(() => stack.close());
  const path = '/agent/tickets/9?tab=1';
  const login = `/.gatehouse/login?realm=agent&rd=${encodeURIComponent(path)}`;

  const nav = await rawRequest(stack.publicUrl, 'GET', path, [
    ['Accept', HTML],
    ['Sec-Fetch-Mode', 'navigate'],
    ['Sec-Fetch-Dest', 'document'],
  ]);
  t.equal(nav.status, 302, 'a navigation is redirected');
  const location = new URL(nav.headers.location as string);
  t.equal(`${location.origin}${location.pathname}`, `${stack.provider.issuer}/auth`, 'straight to the provider (login: automatic)');
  t.equal(location.searchParams.get('client_id'), 'demo-agent');
  t.equal(location.searchParams.get('code_challenge_method'), 'S256');
  t.equal(location.searchParams.get('redirect_uri'), `${stack.publicUrl}/agent/login/authenticate-callback/1`);
  t.match(String(nav.headers['set-cookie']), /gatehouse-login-[A-Za-z0-9_-]+=g1\./, 'a login-attempt cookie');
  t.equal((await rawRequest(stack.publicUrl, 'GET', path, [['Accept', HTML]])).status, 302, 'a navigation without Sec-Fetch-* (older browsers) too');

  const scripted: Array<[string, string, Array<[string, string]>]> = [
    ['fetch with Accept: application/json', 'GET', [['Accept', 'application/json']]],
    [
      'XHR (X-Requested-With)',
      'GET',
      [
        ['Accept', HTML],
        ['X-Requested-With', 'XMLHttpRequest'],
      ],
    ],
    [
      'fetch (Sec-Fetch-Mode: cors)',
      'GET',
      [
        ['Accept', HTML],
        ['Sec-Fetch-Mode', 'cors'],
      ],
    ],
    ['no Accept at all', 'GET', []],
    [
      'POST',
      'POST',
      [
        ['Accept', HTML],
        ['Content-Type', 'application/x-www-form-urlencoded'],
        ['Content-Length', '3'],
      ],
    ],
    [
      'PUT',
      'PUT',
      [
        ['Accept', HTML],
        ['Content-Length', '0'],
      ],
    ],
  ];
  for (const [what, method, headers] of scripted) {
    const res = await rawRequest(stack.publicUrl, method, path, headers);
    t.equal(res.status, 401, `${what}: 401`);
    t.notOk(res.headers.location, `${what}: never a redirect`);
    t.match(res.headers['content-type'], /^application\/json/, `${what}: JSON`);
    t.equal(res.headers['www-authenticate'], `Gatehouse realm="agent", login_url="${login}"`, `${what}: WWW-Authenticate`);
    t.equal(res.headers['x-gatehouse-login'], login, `${what}: X-Gatehouse-Login`);
    const body = JSON.parse(res.body);
    t.equal(body.error, 'GH_NOT_SIGNED_IN', `${what}: GH_NOT_SIGNED_IN`);
    t.equal(body.login_url, login);
    t.notOk(res.headers['set-cookie'], `${what}: no login attempt started`);
  }
  t.equal(stack.upstream.requests.length, 0, 'nothing was forwarded');
});
