// /.gatehouse/userinfo: the signed-in person of the realm named by ?realm= or,
// failing that, by the same-origin Referer's path, or by the one realm the
// browser has a session cookie for — what the helpdesk's front end asks to show
// "signed in as". Signed out: 401 JSON with the login URL. No way to tell:
// GH_REALM_REQUIRED with the realms to choose from.
import t from 'tap';
import { fetchWithJar } from '../helpers/browserless.js';
import { ALICE, startTestStack } from '../helpers/stack.js';

t.test('userinfo by realm= and by Referer', async (t) => {
  const stack = await startTestStack();
  t.teardown(() => stack.close());
  const { jar } = await stack.signIn('/agent/', ALICE);
  const userinfo = (query: string, headers: Record<string, string> = {}) =>
    fetchWithJar(`${stack.publicUrl}/.gatehouse/userinfo${query}`, { jar, headers: { accept: 'application/json', ...headers } });

  const byRealm = await userinfo('?realm=agent');
  t.equal(byRealm.status, 200);
  t.equal(byRealm.headers['cache-control'], 'no-store');
  const body = JSON.parse(byRealm.body);
  t.match(body, { realm: 'agent', sub: 'user-alice', email: 'alice@example.com', name: 'Alice Agent', groups: ['helpdesk-agents'] });
  t.ok(Date.parse(body.expires_at) > Date.now() + 7 * 3600_000, 'expires_at: the end of the 8 h lifetime');
  t.notOk(JSON.stringify(body).includes('eyJ'), 'no token in the answer');

  const byReferer = await userinfo('', { referer: `${stack.publicUrl}/agent/tickets/5` });
  t.equal(byReferer.status, 200);
  t.equal(JSON.parse(byReferer.body).sub, 'user-alice', 'the Referer /agent/... picks the agent realm');

  const userRealm = await userinfo('', { referer: `${stack.publicUrl}/tickets/5` });
  t.equal(userRealm.status, 401, 'the Referer / picks the user realm, where alice is not signed in');
  t.match(JSON.parse(userRealm.body), { error: 'GH_NOT_SIGNED_IN', realm: 'user' });
  t.match(userRealm.headers['x-gatehouse-login'], '/.gatehouse/login?realm=user');

  const foreign = await userinfo('', { referer: 'https://evil.example/user/' });
  t.equal(foreign.status, 200, 'a foreign Referer names no realm: the one session cookie does');
  t.equal(JSON.parse(foreign.body).realm, 'agent');
  const unknown = await userinfo('?realm=admin');
  t.equal(unknown.status, 404);
  t.equal(JSON.parse(unknown.body).error, 'GH_UNKNOWN_REALM');
  t.equal(JSON.parse((await userinfo('')).body).realm, 'agent', 'neither realm= nor Referer: the realm of the one session cookie');

  const none = await fetchWithJar(`${stack.publicUrl}/.gatehouse/userinfo`, { headers: { accept: 'application/json' } });
  t.equal(none.status, 400, 'no realm=, no Referer, no session cookie: nothing to go by');
  t.match(JSON.parse(none.body), { error: 'GH_REALM_REQUIRED', realms: ['agent', 'user'] });

  const signedOut = await fetchWithJar(`${stack.publicUrl}/.gatehouse/userinfo?realm=agent`, { headers: { accept: 'application/json' } });
  t.equal(signedOut.status, 401);
  t.equal(JSON.parse(signedOut.body).error, 'GH_NOT_SIGNED_IN');
});
