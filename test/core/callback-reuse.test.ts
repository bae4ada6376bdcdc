// A callback URL works once. Replayed with the login-attempt cookie it was made
// for (a refresh racing the redirect, or a stolen URL and cookie), the state is
// already spent: GH_STATE_REUSED, before the code ever reaches the provider.
// Replayed without the cookie (the ordinary case after success): GH_STATE_MISMATCH.
import t from 'tap';
import { CookieJar, fetchWithJar } from '../helpers/browserless.js';
import { ALICE, NAVIGATION, authorizeUntilCallback, setCookies, startTestStack } from '../helpers/stack.js';

t.test('a reused callback URL is refused', async (t) => {
  const stack = await startTestStack();
  t.teardown(() => stack.close());
  const jar = new CookieJar();
  const start = await fetchWithJar(`${stack.publicUrl}/agent/`, { jar, headers: NAVIGATION });
  const attemptCookie = jar.all(stack.publicUrl).find((c) => c.name.startsWith('gatehouse-login-'))!;
  const callback = await authorizeUntilCallback(start.headers.location as string, jar, ALICE, stack.publicUrl);

  const first = await fetchWithJar(callback, { jar, headers: NAVIGATION });
  t.equal(first.status, 302, 'the first use signs in');

  const withAttemptCookie = (): CookieJar => {
    const replayJar = new CookieJar();
    replayJar.setCookie(stack.publicUrl, `${attemptCookie.name}=${attemptCookie.value}; Path=/`);
    return replayJar;
  };
  const replay = await fetchWithJar(callback, { jar: withAttemptCookie(), headers: NAVIGATION });
  t.equal(replay.status, 400);
  t.match(replay.body, '<code>GH_STATE_REUSED</code>');
  t.notOk(
    setCookies(replay.headers).some((l) => l.startsWith(`${stack.cookieName('agent')}=g1.`)),
    'no session from a replay',
  );
  const json = await fetchWithJar(callback, { jar: withAttemptCookie(), headers: { accept: 'application/json' } });
  t.equal(json.status, 400);
  t.equal(JSON.parse(json.body).error, 'GH_STATE_REUSED');

  const bare = await fetchWithJar(callback, { jar: new CookieJar(), headers: NAVIGATION });
  t.equal(bare.status, 400);
  t.match(bare.body, '<code>GH_STATE_MISMATCH</code>', 'without the attempt cookie: not started in this browser');
  t.ok(stack.logs.lines.some((l) => l.audit === 'sign-in-failed' && l.reason === 'GH_STATE_REUSED'));
});
