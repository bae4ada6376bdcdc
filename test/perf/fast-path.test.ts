// The hot path answers a cached session without a promise (authenticate.ts
// authenticateFromCache); anything due must still take the full path. Here:
// "last seen" is written back (a re-sealed cookie) once the touch interval has
// passed, so a person who keeps clicking outlives idle_timeout, while the
// cached entry alone would have gone idle.
import t from 'tap';
import { fetchWithJar } from '../helpers/browserless.js';
import { ALICE, setCookies, startTestStack, testClock } from '../helpers/stack.js';

t.test('a cached session is still touched, so activity keeps it past idle_timeout', async (t) => {
  const clock = testClock();
  // assertions live an hour (renewed after 45 min), so in the steps below only the touch is due
  const stack = await startTestStack({ now: clock.now, editYaml: (yaml) => yaml.replace('\nlog:\n', '\nidentity:\n  assertion_ttl: 1h\nlog:\n') });
  t.teardown(() => stack.close());
  const { jar } = await stack.signIn('/agent/', ALICE);
  const cookieName = stack.cookieName('agent');
  const call = () => fetchWithJar(`${stack.publicUrl}/agent/api/tickets`, { jar, headers: { accept: 'application/json' } });

  const first = await call();
  t.equal(first.status, 200);
  t.notOk(
    setCookies(first.headers).some((l) => l.startsWith(`${cookieName}=`)),
    'a fresh session: nothing to write back',
  );
  const cached = await call();
  t.equal(cached.status, 200, 'served from the session cache');

  clock.advance(61_000); // past the touch interval (idle_timeout 1h / 10, at most 60 s)
  const touched = await call();
  t.equal(touched.status, 200);
  t.ok(
    setCookies(touched.headers).some((l) => l.startsWith(`${cookieName}=`)),
    'the session cookie is re-sealed with the new "last seen"',
  );

  // idle_timeout is 1 h in the demo config: 40 min, a click, 40 min, a click
  clock.advance(40 * 60_000);
  t.equal((await call()).status, 200, '41 min after sign-in');
  clock.advance(40 * 60_000);
  t.equal((await call()).status, 200, '81 min after sign-in, 80 min after the last touch but 40 after the last click');
  clock.advance(61 * 60_000);
  const idle = await call();
  t.equal(idle.status, 401, 'an hour without a request: signed out');
  t.equal(JSON.parse(idle.body).error, 'GH_NOT_SIGNED_IN');
});

t.test('requests still carrying the old cookie after a touch get the same successor, not a seal each', async (t) => {
  const clock = testClock();
  const stack = await startTestStack({ now: clock.now });
  t.teardown(() => stack.close());
  const { jar } = await stack.signIn('/agent/', ALICE);
  const cookieName = stack.cookieName('agent');
  const oldCookie = jar.cookieHeader(`${stack.publicUrl}/agent/`)!;
  // a client that never stores Set-Cookie (or parallel requests sent before the answer came back)
  const withOldCookie = () => fetchWithJar(`${stack.publicUrl}/agent/api/tickets`, { headers: { accept: 'application/json', cookie: oldCookie } });
  const successorOf = (headers: Record<string, string | string[]>): string | undefined =>
    setCookies(headers)
      .find((l) => l.startsWith(`${cookieName}=`))
      ?.split(';')[0];

  t.equal((await withOldCookie()).status, 200);
  clock.advance(61_000);
  const first = await withOldCookie();
  const second = await withOldCookie();
  t.equal(first.status, 200);
  t.equal(second.status, 200);
  t.ok(successorOf(first.headers), 'the touch hands out a re-sealed cookie');
  t.equal(successorOf(second.headers), successorOf(first.headers), 'the same successor again: sealed once');
  t.equal(stack.upstream.requests.at(-1)!.headers['x-auth-subject'], 'user-alice');

  clock.advance(61_000);
  const later = await withOldCookie();
  t.equal(later.status, 200);
  t.not(successorOf(later.headers), successorOf(first.headers), 'a touch interval later: sealed anew');

  // the old cookie is still judged on its own "last seen": an hour after it, it is idle, as before
  clock.advance(60 * 60_000);
  const idle = await withOldCookie();
  t.equal(idle.status, 401);
  t.equal(JSON.parse(idle.body).error, 'GH_NOT_SIGNED_IN');
});
