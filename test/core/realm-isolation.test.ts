// A session belongs to one realm. An agent session does not open the user realm
// (/), a user session does not open /agent, and a user session cookie copied
// under the agent cookie's name is "signed out": sessions are sealed with a key
// derived per realm, and a cached session is never served to another realm.
import t from 'tap';
import { CookieJar, fetchWithJar } from '../helpers/browserless.js';
import { ALICE, BOB, NAVIGATION, startTestStack } from '../helpers/stack.js';

const JSON_ACCEPT = { accept: 'application/json' };

t.test('sessions do not cross realms', async (t) => {
  const stack = await startTestStack();
  t.teardown(() => stack.close());
  const alice = (await stack.signIn('/agent/', ALICE)).jar;
  const bob = (await stack.signIn('/', BOB)).jar;
  const forwarded = () => stack.upstream.requests.length;

  t.test('an agent session does not open the user realm', async (t) => {
    const before = forwarded();
    const api = await fetchWithJar(`${stack.publicUrl}/tickets/1`, { jar: alice, headers: JSON_ACCEPT });
    t.equal(api.status, 401);
    t.equal(JSON.parse(api.body).realm, 'user');
    const page = await fetchWithJar(`${stack.publicUrl}/tickets/1`, { jar: alice, headers: NAVIGATION });
    t.equal(page.status, 200, 'the user realm sign-in page');
    t.match(page.body, 'Sign in with Demo SSO');
    t.equal(forwarded(), before, 'nothing forwarded');
  });

  t.test('a user session does not open /agent', async (t) => {
    const before = forwarded();
    const api = await fetchWithJar(`${stack.publicUrl}/agent/tickets`, { jar: bob, headers: JSON_ACCEPT });
    t.equal(api.status, 401);
    t.equal(JSON.parse(api.body).realm, 'agent');
    const nav = await fetchWithJar(`${stack.publicUrl}/agent/tickets`, { jar: bob, headers: NAVIGATION });
    t.equal(nav.status, 302, 'sent to sign in for the agent realm');
    t.match(nav.headers.location, `${stack.provider.issuer}/auth?`);
    t.match(nav.headers.location, 'client_id=demo-agent');
    t.equal(forwarded(), before, 'nothing forwarded');
  });

  t.test('a user cookie value copied under the agent cookie name is signed out', async (t) => {
    const userValue = bob.get(`${stack.publicUrl}/`, stack.cookieName('user'))!;
    t.ok(userValue);
    // the value was just used in the user realm, so it sits in the session cache
    t.equal((await fetchWithJar(`${stack.publicUrl}/`, { jar: bob, headers: JSON_ACCEPT })).status, 200);
    const before = forwarded();
    const forged = new CookieJar();
    forged.setCookie(stack.publicUrl, `${stack.cookieName('agent')}=${userValue}; Path=/`);
    const res = await fetchWithJar(`${stack.publicUrl}/agent/tickets`, { jar: forged, headers: JSON_ACCEPT });
    t.equal(res.status, 401);
    t.equal(JSON.parse(res.body).error, 'GH_NOT_SIGNED_IN');
    t.match(String(res.headers['set-cookie']), `${stack.cookieName('agent')}=;`, 'the bogus cookie is cleared');
    t.equal(forwarded(), before, 'nothing forwarded');
  });

  t.test('an agent cookie value copied under the user cookie name is signed out', async (t) => {
    const agentValue = alice.get(`${stack.publicUrl}/agent`, stack.cookieName('agent'))!;
    const before = forwarded();
    const forged = new CookieJar();
    forged.setCookie(stack.publicUrl, `${stack.cookieName('user')}=${agentValue}; Path=/`);
    const res = await fetchWithJar(`${stack.publicUrl}/tickets`, { jar: forged, headers: JSON_ACCEPT });
    t.equal(res.status, 401);
    t.equal(forwarded(), before, 'nothing forwarded');
  });
});
