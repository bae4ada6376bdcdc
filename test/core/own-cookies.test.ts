// The gateway's own cookies (session chunks of every realm, login attempts) are
// credentials for the gateway: they are taken out of the Cookie header before it
// is forwarded, and the helpdesk's own cookies pass untouched.
import t from 'tap';
import { ALICE, rawRequest, startTestStack } from '../helpers/stack.js';

t.test("the helpdesk never receives the gateway's cookies", async (t) => {
  const stack = await startTestStack();
  t.teardown(() => stack.close());
  const { jar } = await stack.signIn('/agent/', ALICE);
  const session = jar.cookieHeader(`${stack.publicUrl}/agent`)!;
  t.match(session, `${stack.cookieName('agent')}=g1.`);

  const res = await rawRequest(stack.publicUrl, 'GET', '/agent/api/x', [
    ['Accept', 'application/json'],
    ['Cookie', `helpdesk_sid=abc123; ${session}; ${stack.cookieName('user')}=g1.other-realm; gatehouse-login-0123456789abcdefghij=g1.x; lang=en`],
  ]);
  t.equal(res.status, 200, 'signed in: the session cookie was read');
  const seen = stack.upstream.requests.at(-1)!;
  t.equal(seen.headers['x-auth-subject'], 'user-alice');
  t.equal(seen.headers.cookie, 'helpdesk_sid=abc123; lang=en', "only the helpdesk's cookies, in order");

  await rawRequest(stack.publicUrl, 'GET', '/favicon.ico', [['Cookie', session]]);
  t.notOk(stack.upstream.requests.at(-1)!.headers.cookie, 'nothing left: no Cookie header at all');
});
