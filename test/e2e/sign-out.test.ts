/**
 * Signing out in a real browser ends the session in both places: at the
 * gateway (the cookie is cleared, and a copy of it is refused afterwards) and
 * at the provider (RP-Initiated Logout 1.0 via its end_session_endpoint, so
 * the next visit asks for the password again instead of signing in silently).
 */
import t from 'tap';
import { request } from 'undici';
import type { Browser } from 'playwright-core';
import { ALICE, chromiumMissingReason, fillProviderLogin, freshPage, launchBrowser, recordNavigations, saveScreenshot, startQuietDemoStack } from '../helpers/browser.js';

const missing = chromiumMissingReason();
if (missing) {
  t.fail(missing);
} else {
  let browser: Browser;
  t.before(async () => {
    browser = await launchBrowser();
  });
  t.teardown(() => browser?.close());

  t.test('logout ends the session at the gateway and at the provider', async (t) => {
    const stack = await startQuietDemoStack(t);
    const gateway = stack.publicUrl;
    const provider = new URL(stack.provider.issuer);
    const { context, page } = await freshPage(t, browser);
    const sessionCookie = async () => (await context.cookies(gateway)).find((c) => c.name === 'gatehouse-agent');

    await page.goto(`${gateway}/agent/tickets/9`);
    await fillProviderLogin(page, ALICE);
    t.equal(await page.textContent('#subject'), 'user-alice');

    // Control: with only the gateway cookie gone, the provider's own session signs
    // alice straight back in without a form. After a real sign-out it must not.
    await context.clearCookies({ name: 'gatehouse-agent' });
    let hops = recordNavigations(page);
    await page.goto(`${gateway}/agent/tickets/10`);
    t.equal(page.url(), `${gateway}/agent/tickets/10`, 'silently signed in again while the provider session lives');
    t.notOk(hops.some((u) => u.includes('/interaction/')), 'no login form was needed');
    t.equal(await page.textContent('#subject'), 'user-alice');
    const before = await sessionCookie();
    t.ok(before, 'signed in at the gateway');

    hops = recordNavigations(page);
    await Promise.all([
      // lands on the provider's form; were the provider session still alive, it would land back on /agent instead
      page.waitForURL((u) => (u.origin === provider.origin && u.pathname.startsWith('/interaction/')) || u.href === `${gateway}/agent`),
      page.getByRole('button', { name: 'Sign out' }).click(),
    ]);
    const endSession = hops.find((u) => new URL(u).origin === provider.origin && !u.includes('/interaction/'));
    t.ok(endSession, 'the browser went to the provider to end its session');
    const endUrl = new URL(endSession!);
    t.equal(endUrl.searchParams.get('post_logout_redirect_uri'), `${gateway}/agent`, 'with where to come back to');
    t.ok(endUrl.searchParams.get('id_token_hint'), 'and the ID token as a hint');
    t.ok(hops.includes(`${gateway}/agent`), 'the provider sent the browser back to post_logout_redirect');

    // at the gateway: no cookie in the browser, and the old value is dead too
    t.notOk(await sessionCookie(), 'the session cookie is gone from the browser');
    const replay = await request(`${gateway}/agent/api/whoami`, { headers: { accept: 'application/json', cookie: `gatehouse-agent=${before!.value}` } });
    t.equal(replay.statusCode, 401, 'a copy of the old cookie is refused');
    t.equal(((await replay.body.json()) as { error: string }).error, 'GH_NOT_SIGNED_IN');

    // at the provider: back at /agent, login: automatic sent the browser to the
    // provider, and the provider asks for the password: its session is over
    t.equal(await page.locator('#login-form').count(), 1, 'the provider asks for the password again');
    await saveScreenshot(page, 'sign-out');
  });
}
