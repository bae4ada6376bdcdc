// When Gatehouse adds its own Set-Cookie (a re-sealed session) to a helpdesk
// answer, that answer must not be stored by a shared cache (CDN, corporate
// proxy): a cache that keeps it would hand one person's session cookie to the
// next visitor. The helpdesk may have marked the page `Cache-Control: public`
// (it does not know Gatehouse adds a cookie): Gatehouse makes it `private`.
// Answers without a Gatehouse cookie keep the helpdesk's Cache-Control as it was.
// The session is re-sealed once a touch interval (60 s with the demo's 1 h
// idle timeout): the injected clock moves past it.
import t from 'tap';
import { fetchWithJar } from '../helpers/browserless.js';
import { ALICE, setCookies, startTestStack, testClock } from '../helpers/stack.js';

const TOUCH = 61_000;

t.test('a Set-Cookie of the gateway makes the answer private', async (t) => {
  const clock = testClock();
  const stack = await startTestStack({ now: clock.now });
  t.teardown(() => stack.close());
  const { jar } = await stack.signIn('/agent/', ALICE);
  const get = (query: string) => fetchWithJar(`${stack.publicUrl}/agent/page?${query}`, { jar, headers: { accept: 'application/json' } });
  const header = (query: string, value: string) => `respond-header=${encodeURIComponent(`Cache-Control:${value}`)}&${query}`;

  const untouched = await get(header('a', 'public, max-age=600'));
  t.same(setCookies(untouched.headers), [], 'no touch due: no cookie added');
  t.equal(untouched.headers['cache-control'], 'public, max-age=600', 'without a gateway cookie the helpdesk decides');

  clock.advance(TOUCH);
  const touched = await get(header('b', 'public, max-age=600, s-maxage=3600'));
  t.equal(touched.status, 200);
  t.ok(
    setCookies(touched.headers).some((c) => c.startsWith(`${stack.cookieName('agent')}=`)),
    'the session was re-sealed on this answer',
  );
  const cc = String(touched.headers['cache-control']);
  t.notMatch(cc, /\bpublic\b/, `no longer public: ${cc}`);
  t.notMatch(cc, /s-maxage/, 'no shared-cache lifetime either');
  t.match(cc, /\bprivate\b/, 'private');
  t.match(cc, /max-age=600/, "the browser's own lifetime is kept");

  clock.advance(TOUCH);
  const none = await get('c');
  t.ok(setCookies(none.headers).length > 0, 're-sealed again');
  t.equal(none.headers['cache-control'], 'private', 'an answer without Cache-Control gets private');

  clock.advance(TOUCH);
  const noStore = await get(header('d', 'no-store'));
  t.ok(setCookies(noStore.headers).length > 0, 're-sealed again');
  t.equal(noStore.headers['cache-control'], 'no-store', 'no-store is already uncacheable: left as is');
});
