// Secret rotation: session.secret becomes [new, old] (both open, new seals), and
// later [new] alone — rotation finished, the old secret retired (perhaps because
// it leaked). A cookie sealed with the retired secret, session or login attempt,
// must then open nothing: signed out (401, cookies cleared), GH_STATE_MISMATCH at
// the callback — also for a cookie the gateway had already opened and cached.
import t from 'tap';
import {
  startHostileStack,
  signInVia,
  fetchAsScript,
  beginSignIn,
  authorizeAt,
  arriveAtCallback,
  errorCode,
  SESSION_SECRET,
} from '../helpers/hostile-provider.js';

const NEW_SECRET = 'rotated-session-secret-abcdefghijklmnopqrstuvwxyz012345';

t.test('cookies sealed with a retired secret open nothing', async (t) => {
  const stack = await startHostileStack();
  t.teardown(() => stack.close());
  const old = await signInVia(stack);
  t.equal((await fetchAsScript(stack, '/agent/', old.jar)).status, 200, 'signed in under the old secret (and cached)');
  const pending = await beginSignIn(stack); // a sign-in in flight during the rotation
  const pendingCallback = await authorizeAt(pending.authorizeUrl);

  const secretLine = `  secret: ${JSON.stringify(SESSION_SECRET)}`;
  t.ok(stack.yaml.includes(secretLine));
  await stack.reload(stack.yaml.replace(secretLine, `  secret: [${JSON.stringify(NEW_SECRET)}, ${JSON.stringify(SESSION_SECRET)}]`));
  t.equal((await fetchAsScript(stack, '/agent/', old.jar)).status, 200, 'during rotation the old cookie still opens');
  const during = await signInVia(stack);
  t.equal(during.callback.status, 302, 'new sign-ins work during rotation');

  await stack.reload(stack.yaml.replace(secretLine, `  secret: ${JSON.stringify(NEW_SECRET)}`));
  const refused = await fetchAsScript(stack, '/agent/', old.jar);
  t.equal(refused.status, 401, 'after rotation the old session is signed out');
  const cleared = [refused.headers['set-cookie']].flat().filter((l): l is string => typeof l === 'string');
  t.ok(
    cleared.some((l) => l.startsWith('gatehouse-agent=;') && l.includes('Max-Age=0')),
    'and its cookie is cleared',
  );
  const late = await arriveAtCallback(pendingCallback, pending.jar);
  t.equal(errorCode(late), 'GH_STATE_MISMATCH', 'a login attempt sealed with the retired secret is refused');
  t.equal((await fetchAsScript(stack, '/agent/', during.jar)).status, 200, 'the session sealed with the new secret lives on');
});
