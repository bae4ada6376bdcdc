/**
 * Signing out in a real browser ends the session in both places: at the
 * gateway (the cookie is cleared, and a copy of it is refused afterwards) and
 * at the provider (RP-Initiated Logout 1.0 via its end_session_endpoint, so
 * the next visit asks for the password again instead of signing in silently).
 *
 * The person clicks "Sign out" on the gateway's own confirmation page
 * (GET /agent/logout), whose form POSTs to the gateway, which answers 303 to
 * the provider — on another origin (the demo provider listens on its own
 * port): the page's CSP form-action must allow it, or Chromium blocks the
 * redirect. The end-session request carries a state, the provider brings it
 * back to post_logout_redirect_uri, and the person lands on "You are signed
 * out" with a way to sign in again — unless the operator chose a page of
 * their own with post_logout_redirect.
 */
import t from 'tap';
import { request } from 'undici';
import type { Page } from 'playwright-core';
import {
  ALICE,
  BOB,
  browserForFile,
  fillProviderLogin,
  freshPage,
  readmeImagePath,
  recordNavigations,
  saveScreenshot,
  startQuietDemoStack,
} from '../helpers/browser.js';

/** The Content-Security-Policy violations Chromium reports on the page's console. */
function cspViolations(page: Page): string[] {
  const seen: string[] = [];
  page.on('console', (message) => {
    if (/Content Security Policy/i.test(message.text())) seen.push(message.text());
  });
  return seen;
}

const browser = await browserForFile(t);
if (browser) {
  t.test("the gateway's own sign-out page ends the session here and at a provider on another origin", async (t) => {
    const stack = await startQuietDemoStack(t);
    const gateway = stack.publicUrl;
    const provider = new URL(stack.provider.issuer);
    t.not(provider.origin, new URL(gateway).origin, 'the provider is on another origin than the gateway');
    const { context, page } = await freshPage(t, browser);
    const violations = cspViolations(page);
    const sessionCookie = async () => (await context.cookies(gateway)).find((c) => c.name === 'gatehouse-agent');

    await page.goto(`${gateway}/agent/tickets/9`);
    await fillProviderLogin(page, ALICE);
    t.equal(await page.textContent('#subject'), 'user-alice');
    const before = await sessionCookie();
    t.ok(before, 'signed in at the gateway');

    // the person opens the sign-out address and confirms there
    await page.goto(`${gateway}/agent/logout`);
    t.equal(await page.textContent('h1'), 'Sign out');
    t.match(await page.textContent('main'), 'Do you want to sign out?');
    t.notMatch(await page.textContent('main'), /Request ID/, 'not an error page: no request id');
    const hops = recordNavigations(page);
    // (the confirmation page has the same address as the signed-out page: wait for the GET that ends there)
    const signedOut = page.waitForResponse((r) => r.url() === `${gateway}/agent/logout` && r.request().method() === 'GET');
    await page.getByRole('button', { name: 'Sign out' }).click();
    t.equal((await signedOut).status(), 200);
    await page.waitForLoadState('load');
    t.same(violations, [], 'Chromium blocked nothing (form-action allows the provider)');

    const endSession = hops.find((u) => new URL(u).origin === provider.origin);
    t.ok(endSession, 'the browser went to the provider to end its session');
    const endUrl = new URL(endSession!);
    t.equal(endUrl.searchParams.get('post_logout_redirect_uri'), `${gateway}/agent`, 'with where to come back to');
    t.ok(endUrl.searchParams.get('id_token_hint'), 'and the ID token as a hint');
    const state = endUrl.searchParams.get('state');
    t.match(state, /^[A-Za-z0-9_-]{43}$/, 'and a state (RP-Initiated Logout 1.0 §2)');
    t.ok(hops.includes(`${gateway}/agent?state=${state}`), 'the provider brought the state back to post_logout_redirect_uri');

    // where the person ends: a page that says so, and offers the way back in
    t.equal(page.url(), `${gateway}/agent/logout`);
    t.equal(await page.textContent('h1'), 'You are signed out');
    t.notOk(await sessionCookie(), 'the session cookie is gone from the browser');
    t.notOk(
      (await context.cookies(gateway)).some((c) => c.name.startsWith('gatehouse-logout-')),
      'the state cookie is spent',
    );
    const replay = await request(`${gateway}/agent/api/whoami`, { headers: { accept: 'application/json', cookie: `gatehouse-agent=${before!.value}` } });
    t.equal(replay.statusCode, 401, 'a copy of the old cookie is refused');
    await replay.body.dump();
    await saveScreenshot(page, 'signed-out', readmeImagePath('signed-out'));

    // the provider session ended too: signing in again asks for the password
    await Promise.all([
      page.waitForURL((u) => u.origin === provider.origin && u.pathname.startsWith('/interaction/')),
      page.getByRole('link', { name: 'Sign in again' }).click(),
    ]);
    t.equal(await page.locator('#login-form').count(), 1, 'the provider asks for the password again');
    await fillProviderLogin(page, ALICE);
    t.equal(page.url(), `${gateway}/agent`, 'and brings the person back in');
    t.equal(await page.textContent('#subject'), 'user-alice');
  });

  t.test("a user signs out with the helpdesk's own button and is told so", async (t) => {
    const stack = await startQuietDemoStack(t);
    const gateway = stack.publicUrl;
    const { page } = await freshPage(t, browser);
    await page.goto(`${gateway}/`);
    await Promise.all([
      page.waitForURL((u) => u.origin === new URL(stack.provider.issuer).origin),
      page.getByRole('button', { name: 'Sign in with Demo SSO' }).click(),
    ]);
    await fillProviderLogin(page, BOB);
    t.equal(await page.textContent('#subject'), 'user-bob');

    await Promise.all([page.waitForURL(`${gateway}/logout`, { waitUntil: 'load' }), page.getByRole('button', { name: 'Sign out' }).click()]);
    t.equal(await page.textContent('h1'), 'You are signed out', 'not the sign-in button page');
    t.equal(await page.getByRole('link', { name: 'Sign in again' }).count(), 1);
    t.equal(await page.getByRole('button', { name: 'Sign in with Demo SSO' }).count(), 0);
    await saveScreenshot(page, 'user-signed-out');
  });

  t.test('with post_logout_redirect configured, the person lands there', async (t) => {
    const stack = await startQuietDemoStack(t, {
      editYaml: (yaml) => yaml.replace('    logout_path: /agent/logout\n', '    logout_path: /agent/logout\n    post_logout_redirect: /agent\n'),
    });
    const gateway = stack.publicUrl;
    const provider = new URL(stack.provider.issuer);
    const { page } = await freshPage(t, browser);
    await page.goto(`${gateway}/agent`);
    await fillProviderLogin(page, ALICE);
    await page.goto(`${gateway}/agent/logout`);
    const hops = recordNavigations(page);
    await Promise.all([
      page.waitForURL((u) => u.origin === provider.origin && u.pathname.startsWith('/interaction/')),
      page.getByRole('button', { name: 'Sign out' }).click(),
    ]);
    t.ok(
      hops.some((u) => u.startsWith(`${gateway}/agent?state=`)),
      'back at the configured page, with the state',
    );
    t.ok(hops.includes(`${gateway}/agent`), 'which the gateway opens without it');
    t.equal(hops.filter((u) => u === `${gateway}/agent/logout`).length, 1, 'the POST only: no signed-out page of ours');
    t.equal(await page.locator('#login-form').count(), 1, '/agent (login: automatic) sends the person to the provider, which asks for the password');
    await saveScreenshot(page, 'sign-out-configured');
  });
}
