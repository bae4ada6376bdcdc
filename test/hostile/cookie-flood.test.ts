// A sibling subdomain (or a script on it) sets many cookies for the parent
// domain; the browser sends them all, before the gateway's own (issue 11,
// finding 9). The gateway must still find its session and login-attempt
// cookies — signed-in requests and sign-in both keep working — however many
// others there are, within the header size limit (limits.max_header_bytes).
import t from 'tap';
import { fetchWithJar, type CookieJar } from '../helpers/browserless.js';
import { authorizeAt, beginSignIn, startHostileStack, NAVIGATION } from '../helpers/hostile-provider.js';

const stack = await startHostileStack();
t.teardown(() => stack.close());

/** 300 cookies of ~12 bytes: about 4 KB, well inside the default 16 KB header limit */
const flood = Array.from({ length: 300 }, (_, i) => `sib${i}=x${i}`).join('; ');
const cookieHeader = (jar: CookieJar): string => `${flood}; ${jar.cookieHeader(stack.publicUrl) ?? ''}`;

t.test("300 foreign cookies before the gateway's: sign-in and the session still work", async (t) => {
  const { jar, authorizeUrl } = await beginSignIn(stack, '/agent/');
  const callbackUrl = await authorizeAt(authorizeUrl);
  // the callback with the login-attempt cookie after the flood
  const callback = await fetchWithJar(callbackUrl, { headers: { ...NAVIGATION, cookie: cookieHeader(jar) } });
  t.equal(callback.status, 302, 'the login attempt is found: signed in');
  jar.setFromResponse(callbackUrl, callback.headers['set-cookie']);

  const forwarded = stack.upstream.requests.length;
  const page = await fetchWithJar(`${stack.publicUrl}/agent/tickets`, { headers: { ...NAVIGATION, cookie: cookieHeader(jar) } });
  t.equal(page.status, 200, 'the session cookie is found after the flood');
  t.equal(stack.upstream.requests.length, forwarded + 1);
  t.equal(stack.upstream.requests.at(-1)?.headers['x-auth-subject'], 'hostile-sub-1', 'as the person who signed in');
  t.match(String(stack.upstream.requests.at(-1)?.headers.cookie), /sib299=x299/, "the helpdesk's own cookies are still forwarded");
});

t.test('a Cookie header over the size limit is refused as a whole (the bound is bytes, not a count)', async (t) => {
  const huge = Array.from({ length: 2000 }, (_, i) => `big${i}=${'y'.repeat(8)}`).join('; '); // ~30 KB
  const res = await fetchWithJar(`${stack.publicUrl}/agent/tickets`, { headers: { ...NAVIGATION, cookie: huge } }).catch((error: Error) => ({
    status: 0,
    error,
  }));
  t.ok(res.status === 431 || res.status === 400 || res.status === 0, `refused before any parsing (status ${res.status})`);
});
