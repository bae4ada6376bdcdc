// Forward-auth through a real nginx in front (docs/snippets/nginx-forward-auth.conf
// as documented): sign-in against the real provider through nginx, the identity
// at the upstream, a script's 401, forged identity headers, sign-out. What the
// upstream received is the ground truth, not what Gatehouse answered nginx.
import t from 'tap';
import { fetchWithJar, signIn, signOut, CookieJar } from '../helpers/browserless.js';
import { ALICE, BOB, NAVIGATION } from '../helpers/stack.js';
import { decodeJwt } from 'jose';
import { startNginxFront, type NginxFront } from './nginx-front.js';

const XHR = { accept: 'application/json', 'x-requested-with': 'XMLHttpRequest' };

let front: NginxFront;
t.before(async () => {
  front = await startNginxFront();
});
t.teardown(() => front.close());

/** The upstream's requests whose path starts with `path`, from index `from` on. */
function arrivedAt(path: string, from = 0) {
  return front.upstream.requests.slice(from).filter((r) => r.url.startsWith(path));
}

t.test('a browser signs in through nginx, and the helpdesk receives the identity nginx was given', async (t) => {
  const flow = await signIn(`${front.publicUrl}/agent/tickets/7?tab=open`, ALICE);
  t.equal(flow.final.status, 200, `signed in and served (${flow.final.status} ${flow.final.body.slice(0, 200)})`);
  t.equal(flow.final.url, `${front.publicUrl}/agent/tickets/7?tab=open`, 'back at the page asked for, query kept');
  t.ok(
    flow.hops.some((hop) => hop.startsWith(`${front.publicUrl}/.gatehouse/login?realm=agent`)),
    'nginx sent the browser to the sign-in start Gatehouse named',
  );
  t.ok(
    flow.hops.some((hop) => hop.startsWith(`${front.publicUrl}/agent/login/authenticate-callback/1?`)),
    'the callback came back through nginx',
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
  t.equal(assertion.iss, front.publicUrl, "issued by public_url (nginx's address)");
  t.equal(assertion.realm, 'agent');

  // a second request: the session from the cache, no sign-in on the way
  const again = await fetchWithJar(`${front.publicUrl}/agent/queue`, { jar: flow.jar, headers: { ...NAVIGATION } });
  t.equal(again.status, 200);
  t.equal((JSON.parse(again.body) as { headers: Record<string, string> }).headers['x-auth-subject'], 'user-alice');
});

t.test('not signed in: a navigation is sent to sign in, a script gets the 401 with where to sign in', async (t) => {
  const before = front.upstream.requests.length;
  const nav = await fetchWithJar(`${front.publicUrl}/agent/tickets?q=a%20b`, { headers: { ...NAVIGATION } });
  t.equal(nav.status, 302, 'a browser navigation is redirected');
  t.equal(
    nav.headers.location,
    `${front.publicUrl}/.gatehouse/login?realm=agent&rd=${encodeURIComponent('/agent/tickets?q=a%20b')}`,
    'to the sign-in start, coming back to the original URI',
  );
  t.match(String(nav.headers['cache-control']), /no-store/);

  const script = await fetchWithJar(`${front.publicUrl}/agent/api/tickets`, { headers: { ...XHR, referer: `${front.publicUrl}/agent/tickets/3` } });
  t.equal(script.status, 401, 'a script gets 401, never a redirect');
  t.equal(script.headers.location, undefined);
  const login = `${front.publicUrl}/.gatehouse/login?realm=agent&rd=${encodeURIComponent('/agent/tickets/3')}`;
  t.equal(script.headers['x-gatehouse-login'], login, 'X-Gatehouse-Login: absolute, back to the page the script runs on');
  t.match(String(script.headers['www-authenticate']), /^Gatehouse realm="agent"/);
  t.same(JSON.parse(script.body), {
    error: 'GH_NOT_SIGNED_IN',
    message: 'Sign-in required.',
    login_url: login,
    request_id: String(script.headers['x-request-id']),
  });

  const curl = await fetchWithJar(`${front.publicUrl}/`, {});
  t.equal(curl.status, 401, 'curl (no Accept: text/html) gets 401 too');
  t.same(arrivedAt('/', before), [], 'nothing reached the helpdesk');
});

t.test('identity headers sent by the client never reach the helpdesk', async (t) => {
  const forged: Record<string, string> = {
    'X-Auth-Realm': 'agent',
    'X-Auth-Subject': 'user-alice',
    'X-Auth-Email': 'alice@example.com',
    'X-Auth-Name': 'Alice Agent',
    'X-Auth-Groups': 'helpdesk-agents',
    'X-Auth-Assertion': 'forged.jwt.value',
    X_Auth_Subject: 'user-alice',
  };
  // Bob (user realm, customers) signed in: his request carries Alice's headers
  const bob = await signIn(`${front.publicUrl}/tickets`, BOB);
  t.equal(bob.final.status, 200, 'Bob signed in');
  const before = front.upstream.requests.length;
  const res = await fetchWithJar(`${front.publicUrl}/tickets/mine`, { jar: bob.jar, headers: { ...NAVIGATION, ...forged } });
  t.equal(res.status, 200);
  const [got] = arrivedAt('/tickets/mine', before);
  t.ok(got, 'the request reached the helpdesk');
  t.equal(got!.headers['x-auth-subject'], 'user-bob', "the subject is Bob's, as Gatehouse said");
  t.equal(got!.headers['x-auth-realm'], 'user');
  t.equal(got!.headers['x-auth-groups'], 'customers');
  t.equal(got!.headers['x-auth-email'], 'bob@example.com');
  t.not(got!.headers['x-auth-assertion'], 'forged.jwt.value');
  t.equal(decodeJwt(String(got!.headers['x-auth-assertion'])).sub, 'user-bob');
  const names = got!.rawHeaders.filter((_, i) => i % 2 === 0).map((n) => n.toLowerCase());
  for (const name of ['x-auth-subject', 'x-auth-realm', 'x-auth-assertion']) t.equal(names.filter((n) => n === name).length, 1, `${name} once`);
  t.notOk(
    names.some((n) => n.includes('_')),
    'no underscore spelling passed on (X_Auth_Subject)',
  );

  // not signed in, on a public path (no identity at all): the forged headers are dropped, not passed on
  const anonymous = await fetchWithJar(`${front.publicUrl}/favicon.ico`, { headers: forged });
  t.equal(anonymous.status, 200, 'the public path is served');
  const [pub] = arrivedAt('/favicon.ico', before);
  t.ok(pub, 'the public path reached the helpdesk');
  const pubNames = pub!.rawHeaders.filter((_, i) => i % 2 === 0).map((n) => n.toLowerCase());
  t.same(
    pubNames.filter((n) => n.startsWith('x-auth') || n.startsWith('x_auth')),
    [],
    'no identity header at all on a public path',
  );
});

t.test("the user realm's session is not the agent realm's", async (t) => {
  const bob = await signIn(`${front.publicUrl}/`, BOB);
  t.equal(bob.final.status, 200);
  const before = front.upstream.requests.length;
  const res = await fetchWithJar(`${front.publicUrl}/agent/tickets`, { jar: bob.jar, headers: { ...XHR } });
  t.equal(res.status, 401, "Bob's user session does not open the agent area");
  t.same(arrivedAt('/agent', before), []);
});

t.test('a signed-in person refused by the allow rules gets 403 and reaches nothing', async (t) => {
  // Bob signs in to the agent realm at the provider, but is not in helpdesk-agents
  const jar = new CookieJar();
  const before = front.upstream.requests.length;
  const flow = await signIn(`${front.publicUrl}/agent/`, BOB, { jar });
  t.equal(flow.final.status, 403, `refused (${flow.final.status})`);
  t.match(flow.final.body, /GH_ALLOW_CLAIM/, 'the page names the refusal');
  t.same(arrivedAt('/agent', before), [], 'nothing reached the agent area');
});

t.test('sign-out through nginx: the logout path reaches Gatehouse, the session ends, the next request signs in again', async (t) => {
  const flow = await signIn(`${front.publicUrl}/agent/`, ALICE);
  t.equal(flow.final.status, 200);
  const cookie = flow.jar.get(front.publicUrl, 'gatehouse-agent');
  t.ok(cookie, 'a session cookie');
  const out = await signOut(`${front.publicUrl}/agent/logout`, { jar: flow.jar });
  t.ok(
    front.logs.lines.some((l) => l.audit === 'sign-out'),
    'Gatehouse did the sign-out',
  );
  t.equal(flow.jar.get(front.publicUrl, 'gatehouse-agent'), undefined, 'the browser lost its cookie');
  t.equal(out.final.status, 200, `landed (${out.final.url})`);
  t.ok(
    out.hops.some((hop) => hop.startsWith(`${front.publicUrl}/agent?state=`)),
    'the provider sent the browser back through nginx',
  );
  t.equal(out.final.url, `${front.publicUrl}/agent/logout`, 'where nginx sent it from there: "you are signed out"');
  t.equal(flow.jar.get(front.publicUrl, 'gatehouse-logout-agent'), undefined, "the sign-out's state cookie was cleared on the way (Set-Cookie through nginx)");
  t.notOk(
    out.hops.some((hop) => hop.includes('/.gatehouse/login')),
    `the way back from the provider did not start a new sign-in (${out.hops.join(' ')})`,
  );

  const before = front.upstream.requests.length;
  const copied = await fetchWithJar(`${front.publicUrl}/agent/api/whoami`, { headers: { ...XHR, cookie: `gatehouse-agent=${cookie}` } });
  t.equal(copied.status, 401, 'a copy of the ended session no longer works through nginx');
  t.same(arrivedAt('/agent', before), []);
});

t.test("a form sent after the session ended: the person signs in again and comes back to the form's page (the body is not kept)", async (t) => {
  const before = front.upstream.requests.length;
  const res = await fetchWithJar(`${front.publicUrl}/agent/tickets/7/reply`, {
    method: 'POST',
    body: 'text=hello',
    headers: {
      ...NAVIGATION,
      'content-type': 'application/x-www-form-urlencoded',
      origin: front.publicUrl,
      referer: `${front.publicUrl}/agent/tickets/7`,
      'sec-fetch-site': 'same-origin',
    },
  });
  t.equal(res.status, 302, 'nginx redirects the browser');
  t.equal(
    res.headers.location,
    `${front.publicUrl}/.gatehouse/login?realm=agent&rd=${encodeURIComponent('/agent/tickets/7')}`,
    'to sign in, back to the page the form was on',
  );
  const crossSite = await fetchWithJar(`${front.publicUrl}/agent/tickets/7/reply`, {
    method: 'POST',
    body: 'text=hello',
    headers: { ...NAVIGATION, 'content-type': 'application/x-www-form-urlencoded', origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' },
  });
  t.equal(crossSite.status, 401, 'a form from another site is not sent anywhere: 401');
  t.same(arrivedAt('/agent', before), [], 'neither reached the helpdesk');
});
