// Full sign-in for the user realm (login: button): a navigation to / shows the
// gateway's sign-in page with the configured button text; the button posts to
// /.gatehouse/login, and the sign-in completes back on the page asked for.
import t from 'tap';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { fetchWithJar, parseForms, CookieJar } from '../helpers/browserless.js';
import { BOB, NAVIGATION, startTestStack } from '../helpers/stack.js';

t.test('a user sees the sign-in button page, posts it, and is signed in at /', async (t) => {
  const stack = await startTestStack();
  t.teardown(() => stack.close());
  const jar = new CookieJar();

  const page = await fetchWithJar(`${stack.publicUrl}/tickets/7?x=1`, { jar, headers: NAVIGATION });
  t.equal(page.status, 200, 'the sign-in page, not a redirect');
  t.match(page.headers['content-type'], /^text\/html/);
  t.match(page.body, '>Sign in with Demo SSO</button>', 'shows the configured button_text');
  t.equal(stack.upstream.requests.length, 0, 'nothing forwarded before sign-in');
  const [form] = parseForms(page.body, page.url);
  t.equal(form?.method, 'POST');
  t.equal(form?.action, `${stack.publicUrl}/.gatehouse/login`, 'the button posts to /.gatehouse/login');
  t.same(Object.fromEntries(form!.fields.filter((f) => f.type === 'hidden').map((f) => [f.name, f.value])), { realm: 'user', rd: '/tickets/7?x=1' });
  t.match(page.headers['content-security-policy'], /form-action 'self'/);

  const flow = await stack.signIn('/tickets/7?x=1', BOB, jar);
  t.ok(flow.hops.includes(`${stack.publicUrl}/.gatehouse/login`), 'went through /.gatehouse/login');
  t.ok(
    flow.hops.some((h) => h.startsWith(`${stack.publicUrl}/login/authenticate-callback/2?`)),
    'came back through the user callback',
  );
  t.equal(flow.final.status, 200);
  t.equal(flow.final.url, `${stack.publicUrl}/tickets/7?x=1`);

  const seen = stack.upstream.requests.at(-1)!;
  t.equal(seen.url, '/tickets/7?x=1');
  t.equal(seen.headers['x-auth-realm'], 'user');
  t.equal(seen.headers['x-auth-subject'], 'user-bob');
  t.equal(seen.headers['x-auth-email'], 'bob@example.com');
  t.equal(seen.headers['x-auth-name'], 'Bob Customer');
  t.equal(seen.headers['x-auth-groups'], 'customers');
  const jwks = createRemoteJWKSet(new URL(`${stack.publicUrl}/.gatehouse/jwks.json`));
  const { payload } = await jwtVerify(seen.headers['x-auth-assertion'] as string, jwks, { issuer: stack.publicUrl, audience: stack.upstreamUrl });
  t.equal(payload.sub, 'user-bob');
  t.equal(payload.realm, 'user');
  t.equal(payload.exp! - payload.iat!, 60);
  t.ok(flow.jar.get(`${stack.publicUrl}/`, stack.cookieName('user')), 'user session cookie set');
});
