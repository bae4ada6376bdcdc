// A callback URL that already signed someone in arrives again — a double submit,
// a URL from browser history or a proxy log, replayed together with the login
// attempt cookie. Gatehouse must answer GH_STATE_REUSED (400); without the
// attempt cookie (it is cleared after use) GH_STATE_MISMATCH (400). The code is
// redeemed once only.
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
  t.notOk(jar.all(stack.publicUrl).some((c) => c.name === attempt.name), 'the attempt cookie is cleared after use');

  const again = await arriveAtCallback(callbackUrl, jar);
  t.equal(again.status, 400);
  t.equal(errorCode(again), 'GH_STATE_MISMATCH', 'same browser, attempt cookie gone');

  const replayer = new CookieJar();
  replayer.setCookie(stack.publicUrl, `${attempt.name}=${attempt.value}; Path=/`);
  const replay = await arriveAtCallback(callbackUrl, replayer);
  t.equal(replay.status, 400);
  t.equal(errorCode(replay), 'GH_STATE_REUSED', 'with the attempt cookie copied along');
  t.equal(stack.provider.counts.token, 1, 'the code was redeemed once');
});
