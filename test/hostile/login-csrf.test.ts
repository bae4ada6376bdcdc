// Login CSRF: an attacker starts a sign-in with their own account, stops at the
// callback URL (their code + state) and makes the victim's browser open it, so
// the victim would work in the attacker's session. The victim's browser has no
// login attempt for that state (or a different one of its own). Gatehouse must
// answer GH_STATE_MISMATCH (400), set no session cookie and never redeem the
// attacker's code.
import t from 'tap';
import {
  startHostileStack,
  beginSignIn,
  authorizeAt,
  arriveAtCallback,
  errorCode,
  fetchAsScript,
  AGENT_CALLBACK,
  USER_CALLBACK,
} from '../helpers/hostile-provider.js';
import { CookieJar } from '../helpers/browserless.js';

t.test('a callback for a login this browser did not start', async (t) => {
  const stack = await startHostileStack();
  t.teardown(() => stack.close());
  const attacker = await beginSignIn(stack);
  const attackerCallback = await authorizeAt(attacker.authorizeUrl);

  const fresh = new CookieJar();
  const a = await arriveAtCallback(attackerCallback, fresh, { 'sec-fetch-site': 'cross-site' });
  t.equal(a.status, 400);
  t.equal(errorCode(a), 'GH_STATE_MISMATCH', 'a browser with no attempt');
  t.notOk(
    fresh.all(stack.publicUrl).some((c) => c.name.startsWith('gatehouse-agent')),
    'no session cookie',
  );

  const victim = await beginSignIn(stack); // the victim has a sign-in of its own in flight
  const b = await arriveAtCallback(attackerCallback, victim.jar, { 'sec-fetch-site': 'cross-site' });
  t.equal(errorCode(b), 'GH_STATE_MISMATCH', 'a browser with its own, different attempt');
  t.equal((await fetchAsScript(stack, '/agent/', victim.jar)).status, 401, 'the victim is not signed in as the attacker');

  // the attacker's attempt cookie is for realm agent: presented at the user realm's callback it opens nothing
  const crossRealm = new CookieJar();
  for (const c of attacker.jar.all(stack.publicUrl)) crossRealm.setCookie(stack.publicUrl, `${c.name}=${c.value}; Path=/`);
  const c = await arriveAtCallback(attackerCallback.replace(AGENT_CALLBACK, USER_CALLBACK), crossRealm);
  t.equal(errorCode(c), 'GH_STATE_MISMATCH', "an attempt of one realm at another realm's callback");

  t.equal(stack.provider.counts.token, 0, 'no code was redeemed');
  // and the attacker's own browser can still finish (the failures spent nothing)
  t.equal((await arriveAtCallback(attackerCallback, attacker.jar)).status, 302);
});
