// Signing out (OIDC RP-Initiated Logout 1.0). GET only shows a confirmation page;
// a cross-site POST does not sign anyone out; a same-origin POST clears the
// cookies, revokes the session (a copied cookie value dies too) and sends the
// browser to the provider's end_session_endpoint with id_token_hint and
// post_logout_redirect_uri.
import t from 'tap';
import { decodeJwt } from 'jose';
import { CookieJar, fetchWithJar, parseForms } from '../helpers/browserless.js';
import { ALICE, NAVIGATION, setCookies, startTestStack } from '../helpers/stack.js';

t.test('logout', async (t) => {
  const stack = await startTestStack();
  t.teardown(() => stack.close());
  const { jar } = await stack.signIn('/agent/', ALICE);
  const logoutUrl = `${stack.publicUrl}/agent/logout`;
  const sessionValue = jar.get(`${stack.publicUrl}/agent`, stack.cookieName('agent'))!;
  const stillSignedIn = async (which = jar) =>
    (await fetchWithJar(`${stack.publicUrl}/agent/api/whoami`, { jar: which, headers: { accept: 'application/json' } })).status === 200;
  t.ok(await stillSignedIn());

  t.test('GET shows a confirmation page and does not sign out', async (t) => {
    const page = await fetchWithJar(logoutUrl, { jar, headers: NAVIGATION });
    t.equal(page.status, 200);
    t.match(page.body, 'Do you want to sign out?');
    const [form] = parseForms(page.body, page.url);
    t.equal(form?.method, 'POST');
    t.equal(form?.action, logoutUrl);
    t.ok(
      form?.fields.find((f) => f.name === 'csrf' && f.value.length > 20),
      'the form carries a token bound to the session',
    );
    t.same(setCookies(page.headers), [], 'no cookie touched');
    t.ok(await stillSignedIn(), 'still signed in');
  });

  t.test('a cross-site POST does not sign out', async (t) => {
    const attempts: Array<Record<string, string>> = [
      { origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' },
      { origin: 'https://evil.example' },
      { 'sec-fetch-site': 'cross-site' },
      { 'sec-fetch-site': 'same-site', origin: 'https://sub.evil.example' },
      {},
    ];
    for (const headers of attempts) {
      const res = await fetchWithJar(logoutUrl, {
        jar,
        method: 'POST',
        body: 'csrf=guess',
        headers: { ...NAVIGATION, 'content-type': 'application/x-www-form-urlencoded', ...headers },
      });
      t.equal(res.status, 200, `${JSON.stringify(headers)}: the confirmation page again`);
      t.notOk(res.headers.location, 'no redirect');
      t.same(setCookies(res.headers), [], 'no cookie cleared');
      t.ok(await stillSignedIn(), `${JSON.stringify(headers)}: still signed in`);
    }
  });

  t.test('a same-origin POST signs out, revokes, and goes to the provider', async (t) => {
    const res = await fetchWithJar(logoutUrl, {
      jar,
      method: 'POST',
      body: '',
      headers: { ...NAVIGATION, 'content-type': 'application/x-www-form-urlencoded', origin: stack.publicUrl, 'sec-fetch-site': 'same-origin' },
    });
    t.equal(res.status, 303);
    t.ok(
      setCookies(res.headers).some((l) => l.startsWith(`${stack.cookieName('agent')}=;`) && /Max-Age=0/.test(l)),
      'the session cookie is cleared',
    );
    const location = new URL(res.headers.location as string);
    t.equal(`${location.origin}${location.pathname}`, `${stack.provider.issuer}/session/end`, "the provider's end_session_endpoint");
    t.equal(location.searchParams.get('post_logout_redirect_uri'), `${stack.publicUrl}/agent`);
    t.equal(location.searchParams.get('client_id'), 'demo-agent');
    const hint = decodeJwt(location.searchParams.get('id_token_hint')!);
    t.equal(hint.sub, 'user-alice', 'id_token_hint is the session ID token');
    t.equal(hint.aud, 'demo-agent');
    const state = location.searchParams.get('state');
    t.match(state, /^[A-Za-z0-9_-]{43}$/, 'a state goes with the end-session request (RP-Initiated Logout 1.0 §2)');
    t.equal(jar.get(`${stack.publicUrl}/agent`, 'gatehouse-logout-agent'), state, 'and is kept in this browser until the provider sends it back');
    t.notOk(jar.get(`${stack.publicUrl}/agent`, stack.cookieName('agent')), 'the browser dropped the cookie');

    // back at post_logout_redirect_uri: only this browser's state leads to "you are signed out"
    const wrong = await fetchWithJar(`${stack.publicUrl}/agent?state=${'x'.repeat(43)}`, { jar, headers: NAVIGATION });
    t.equal(wrong.status, 302, 'another state: an ordinary visit (login: automatic sends it to the provider)');
    t.ok(String(wrong.headers.location).startsWith(stack.provider.issuer));
    const none = await fetchWithJar(`${stack.publicUrl}/agent`, { jar, headers: NAVIGATION });
    t.equal(none.status, 302, 'no state: an ordinary visit too');
    const landing = await fetchWithJar(`${stack.publicUrl}/agent?state=${state}`, { jar, headers: NAVIGATION });
    t.equal(landing.status, 303);
    t.equal(landing.headers.location, '/agent/logout', 'the state this browser sent: on to the signed-out page');
    t.notOk(jar.get(`${stack.publicUrl}/agent`, 'gatehouse-logout-agent'), 'the state is spent');
    const signedOut = await fetchWithJar(`${stack.publicUrl}/agent/logout`, { jar, headers: NAVIGATION });
    t.match(signedOut.body, '<h1>You are signed out</h1>');
    t.match(signedOut.body, 'href="/.gatehouse/login?realm=agent&amp;rd=%2Fagent">Sign in again</a>');
    t.notOk(await stillSignedIn(), 'signed out');

    const before = stack.upstream.requests.length;
    const replay = new CookieJar();
    replay.setCookie(stack.publicUrl, `${stack.cookieName('agent')}=${sessionValue}; Path=/`);
    const replayed = await fetchWithJar(`${stack.publicUrl}/agent/api/whoami`, { jar: replay, headers: { accept: 'application/json' } });
    t.equal(replayed.status, 401, 'the old cookie value replayed: signed out');
    t.equal(JSON.parse(replayed.body).error, 'GH_NOT_SIGNED_IN');
    t.equal(stack.upstream.requests.length, before, 'nothing forwarded');
    t.ok(
      stack.logs.lines.some((l) => l.audit === 'sign-out' && l.sub === 'user-alice'),
      'the sign-out is audited',
    );
  });

  t.test('the confirmation form alone (its token, no Origin) signs out', async (t) => {
    const { jar: second } = await stack.signIn('/agent/', ALICE);
    const page = await fetchWithJar(logoutUrl, { jar: second, headers: NAVIGATION });
    const token = parseForms(page.body, page.url)[0]!.fields.find((f) => f.name === 'csrf')!.value;
    const res = await fetchWithJar(logoutUrl, {
      jar: second,
      method: 'POST',
      body: `csrf=${encodeURIComponent(token)}`,
      headers: { ...NAVIGATION, 'content-type': 'application/x-www-form-urlencoded' },
    });
    t.equal(res.status, 303);
    t.notOk(await stillSignedIn(second));
  });
});
