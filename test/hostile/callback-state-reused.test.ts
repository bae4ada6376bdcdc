// A callback URL that already signed someone in arrives again — a double submit,
// a URL from browser history or a proxy log, replayed together with the login
// attempt cookie. Gatehouse must answer GH_STATE_REUSED (400). After use the
// attempt cookie is replaced by a spent one (no nonce, no PKCE verifier): the
// same browser, signed in, is sent on to where it was going; without the
// session it is told the link was already used. The code is redeemed once only.
import t from 'tap';
import { startHostileStack, beginSignIn, authorizeAt, arriveAtCallback, errorCode } from '../helpers/hostile-provider.js';
import { CookieJar } from '../helpers/browserless.js';

t.test('a callback replayed', async (t) => {
  const stack = await startHostileStack();
  t.teardown(() => stack.close());
  const { jar, authorizeUrl } = await beginSignIn(stack);
  const attempt = jar.all(stack.publicUrl).find((c) => c.name.startsWith('gatehouse-login-'))!;
  t.ok(attempt, 'a login attempt cookie was set');
  const callbackUrl = await authorizeAt(authorizeUrl);
  const first = await arriveAtCallback(callbackUrl, jar);
  t.equal(first.status, 302, 'the first arrival signs in');
  const spent = jar.all(stack.publicUrl).find((c) => c.name === attempt.name);
  t.ok(spent && spent.value !== attempt.value, 'the attempt cookie is replaced by a spent one after use');

  const again = await arriveAtCallback(callbackUrl, jar);
  t.equal(again.status, 302, 'same browser, signed in: sent on');
  t.equal(again.headers.location, '/agent/', 'to where the sign-in was going');

  const spentOnly = new CookieJar();
  spentOnly.setCookie(stack.publicUrl, `${spent!.name}=${spent!.value}; Path=/`);
  const used = await arriveAtCallback(callbackUrl, spentOnly);
  t.equal(used.status, 400);
  t.equal(errorCode(used), 'GH_STATE_REUSED', 'the spent attempt without the session: already used');

  const replayer = new CookieJar();
  replayer.setCookie(stack.publicUrl, `${attempt.name}=${attempt.value}; Path=/`);
  const replay = await arriveAtCallback(callbackUrl, replayer);
  t.equal(replay.status, 400);
  t.equal(errorCode(replay), 'GH_STATE_REUSED', 'with the attempt cookie copied along');
  t.equal(stack.provider.counts.token, 1, 'the code was redeemed once');
});
