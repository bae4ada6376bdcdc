// Logout CSRF: another site signs a person out (an <img> or link GET, a
// cross-site or same-site form POST, a POST without Origin, a forged or
// another session's form token). Only a POST from this origin, or with this
// session's form token, may end the session; everything else shows the
// confirmation page and the session lives on. A real sign-out revokes the
// session: a copy of the cookie is dead too.
import t from 'tap';
import { startHostileStack, signInVia, fetchAsScript, NAVIGATION, type HostileStack } from '../helpers/hostile-provider.js';
import { CookieJar, fetchWithJar, parseForms, type FetchWithJarResult } from '../helpers/browserless.js';

async function stillSignedIn(stack: HostileStack, jar: CookieJar): Promise<boolean> {
  return (await fetchAsScript(stack, '/agent/', jar)).status === 200;
}

function copyOf(stack: HostileStack, jar: CookieJar): CookieJar {
  const copy = new CookieJar();
  for (const c of jar.all(stack.publicUrl)) copy.setCookie(stack.publicUrl, `${c.name}=${c.value}; Path=/`);
  return copy;
}

t.test('cross-site attempts do not sign out', async (t) => {
  const stack = await startHostileStack();
  t.teardown(() => stack.close());
  const { jar } = await signInVia(stack);
  const other = await signInVia(stack); // another person's session, for their form token
  const otherPage = await fetchWithJar(`${stack.publicUrl}/agent/logout`, { jar: other.jar, headers: { ...NAVIGATION } });
  const otherToken = parseForms(otherPage.body, `${stack.publicUrl}/agent/logout`)[0]!.fields.find((f) => f.name === 'csrf')!.value;
  t.ok(otherToken.length > 20, 'the confirmation page carries a form token');

  const form = { 'content-type': 'application/x-www-form-urlencoded' };
  const attempts: Array<[string, { method: string; headers: Record<string, string>; body?: string }]> = [
    [
      'GET as an image',
      { method: 'GET', headers: { accept: 'image/*', 'sec-fetch-site': 'cross-site', 'sec-fetch-dest': 'image', 'sec-fetch-mode': 'no-cors' } },
    ],
    ['GET as a navigation', { method: 'GET', headers: { ...NAVIGATION, 'sec-fetch-site': 'cross-site' } }],
    ['HEAD', { method: 'HEAD', headers: {} }],
    ['POST cross-site', { method: 'POST', headers: { ...form, origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' }, body: '' }],
    [
      'POST same-site (a sibling subdomain)',
      { method: 'POST', headers: { ...form, origin: 'https://sub.127.0.0.1', 'sec-fetch-site': 'same-site' }, body: '' },
    ],
    ['POST with Origin null', { method: 'POST', headers: { ...form, origin: 'null' }, body: '' }],
    ['POST without Origin or Sec-Fetch-Site', { method: 'POST', headers: form, body: '' }],
    ['POST with a look-alike Origin', { method: 'POST', headers: { ...form, origin: `${stack.publicUrl}.evil.example` }, body: '' }],
    [
      'POST with a made-up token',
      { method: 'POST', headers: { ...form, 'sec-fetch-site': 'cross-site' }, body: 'csrf=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' },
    ],
    [
      "POST with another session's token",
      { method: 'POST', headers: { ...form, 'sec-fetch-site': 'cross-site' }, body: `csrf=${encodeURIComponent(otherToken)}` },
    ],
    ['POST with the token twice', { method: 'POST', headers: { ...form, 'sec-fetch-site': 'cross-site' }, body: `csrf=${otherToken}&csrf=${otherToken}` }],
    [
      'POST text/plain (a simple cross-site form)',
      { method: 'POST', headers: { 'content-type': 'text/plain', 'sec-fetch-site': 'cross-site' }, body: 'csrf=x' },
    ],
    ['POST JSON', { method: 'POST', headers: { 'content-type': 'application/json', 'sec-fetch-site': 'cross-site' }, body: '{"csrf":"x"}' }],
    ['PUT', { method: 'PUT', headers: { ...form, origin: 'https://evil.example' }, body: '' }],
    ['DELETE', { method: 'DELETE', headers: {} }],
  ];
  for (const [label, request] of attempts) {
    const answer = await fetchWithJar(`${stack.publicUrl}/agent/logout`, { jar, ...request });
    t.ok(answer.status < 500, `${label}: answered ${answer.status}, not a 5xx`);
    t.notOk(answer.headers.location, `${label}: no redirect`);
    t.ok(await stillSignedIn(stack, jar), `${label}: still signed in`);
  }
  t.ok(await stillSignedIn(stack, other.jar), 'the other session is untouched');
});

t.test('a real sign-out ends the session, copies included', async (t) => {
  const stack = await startHostileStack();
  t.teardown(() => stack.close());
  for (const how of ['same-origin POST', 'form token'] as const) {
    const { jar } = await signInVia(stack);
    const copy = copyOf(stack, jar);
    let answer: FetchWithJarResult;
    if (how === 'same-origin POST') {
      answer = await fetchWithJar(`${stack.publicUrl}/agent/logout`, {
        jar,
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', origin: stack.publicUrl, 'sec-fetch-site': 'same-origin' },
        body: '',
      });
    } else {
      const page = await fetchWithJar(`${stack.publicUrl}/agent/logout`, { jar, headers: { ...NAVIGATION } });
      const token = parseForms(page.body, `${stack.publicUrl}/agent/logout`)[0]!.fields.find((f) => f.name === 'csrf')!.value;
      answer = await fetchWithJar(`${stack.publicUrl}/agent/logout`, {
        jar,
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: `csrf=${encodeURIComponent(token)}`,
      });
    }
    t.equal(answer.status, 303, `${how}: signed out`);
    t.notOk(await stillSignedIn(stack, jar), `${how}: the browser is signed out`);
    t.notOk(await stillSignedIn(stack, copy), `${how}: a copy of the cookie is revoked`);
  }
});
