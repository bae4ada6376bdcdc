// Lifetime and idle timeout are enforced from the timestamps sealed inside the
// session (createdAt, seenAt), so they hold for the stateless cookie store too:
// an older copy of the cookie carries its older seenAt and goes idle on its own.
// The demo config: lifetime 8h, idle_timeout 1h. Time comes from an injected clock.
import t from 'tap';
import { CookieJar, fetchWithJar } from '../helpers/browserless.js';
import { ALICE, NAVIGATION, startTestStack, testClock } from '../helpers/stack.js';

const MINUTE = 60_000;

t.test('session lifetime and idle timeout', async (t) => {
  const clock = testClock();
  const stack = await startTestStack({ now: clock.now });
  t.teardown(() => stack.close());
  const whoami = `${stack.publicUrl}/agent/api/whoami`;
  const status = async (jar: CookieJar) => (await fetchWithJar(whoami, { jar, headers: { accept: 'application/json' } })).status;
  const jarWith = (value: string) => {
    const jar = new CookieJar();
    jar.setCookie(stack.publicUrl, `${stack.cookieName('agent')}=${value}; Path=/`);
    return jar;
  };

  t.test('idle timeout: activity keeps a session alive, an hour without requests ends it', async (t) => {
    const { jar, final } = await stack.signIn('/agent/', ALICE);
    t.equal(final.status, 200);
    const atSignIn = jar.get(stack.publicUrl, stack.cookieName('agent'))!;
    clock.advance(50 * MINUTE);
    t.equal(await status(jar), 200, '50 min idle: fine');
    const touched = jar.get(stack.publicUrl, stack.cookieName('agent'))!;
    t.not(touched, atSignIn, 'the request re-sealed the cookie with a new seenAt');
    clock.advance(50 * MINUTE);
    t.equal(await status(jar), 200, '100 min after sign-in, 50 min after the last request: fine');
    t.equal(await status(jarWith(atSignIn)), 401, 'the cookie as it was at sign-in is 100 min idle: signed out');

    clock.advance(61 * MINUTE);
    const before = stack.upstream.requests.length;
    const idle = await fetchWithJar(whoami, { jar, headers: { accept: 'application/json' } });
    t.equal(idle.status, 401, '61 min without a request: signed out');
    t.equal(JSON.parse(idle.body).error, 'GH_NOT_SIGNED_IN');
    t.match(String(idle.headers['set-cookie']), `${stack.cookieName('agent')}=;`, 'the dead cookie is cleared');
    t.equal(stack.upstream.requests.length, before, 'nothing forwarded');
  });

  t.test('lifetime: even a busy session ends 8 h after sign-in', async (t) => {
    clock.reset();
    const { jar, final } = await stack.signIn('/agent/', ALICE);
    t.equal(final.status, 200);
    const realm = stack.gw.runtime.realms.get('agent')!;
    const { createdAt } = (await stack.gw.store.load(realm, jar.get(stack.publicUrl, stack.cookieName('agent'))!))!;
    for (let elapsed = 45; elapsed < 8 * 60; elapsed += 45) {
      clock.advance(45 * MINUTE);
      if ((await status(jar)) !== 200) return t.fail(`signed out after ${elapsed} min`);
    }
    // just before 8 h after the sealed createdAt: counted from there, since the requests above took real time too
    clock.advance(createdAt + 8 * 60 * MINUTE - 1000 - clock.now());
    t.equal(await status(jar), 200, 'just before 8 h: fine');
    clock.advance(2000);
    t.equal(await status(jar), 401, 'past 8 h: signed out though never idle');
    const nav = await fetchWithJar(`${stack.publicUrl}/agent/`, { jar, headers: NAVIGATION });
    t.equal(nav.status, 302, 'a navigation is sent to sign in again');
    t.match(nav.headers.location, `${stack.provider.issuer}/auth?`);
  });
});
