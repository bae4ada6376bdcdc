/**
 * What a person meets at the callback URL when it is not a fresh sign-in, in
 * a real browser. Reloading it (or reaching it again from history) while
 * signed in takes them where they were going; without the session it says the
 * link was already used (it was started here), and signs them in again on a
 * click. Pressing Cancel at the provider says they cancelled and offers to try
 * again.
 */
import t from 'tap';
import {
  ALICE,
  browserForFile,
  fillProviderLogin,
  freshPage,
  readmeImagePath,
  recordNavigations,
  saveScreenshot,
  startQuietDemoStack,
} from '../helpers/browser.js';

const browser = await browserForFile(t);
if (browser) {
  t.test('callback outcomes in a real browser', async (t) => {
    const stack = await startQuietDemoStack(t);
    const gateway = stack.publicUrl;
    const provider = new URL(stack.provider.issuer).origin;
    const callbackPath = '/agent/login/authenticate-callback/1';

    t.test('reloading the callback URL: on to the page when signed in, "already used" when not', async (t) => {
      const { context, page } = await freshPage(t, browser);
      const hops = recordNavigations(page);
      await page.goto(`${gateway}/agent/tickets/3?tab=notes`);
      await fillProviderLogin(page, ALICE);
      t.equal(page.url(), `${gateway}/agent/tickets/3?tab=notes`);
      const callback = hops.find((u) => u.startsWith(`${gateway}${callbackPath}?`));
      t.ok(callback, 'the browser passed the callback URL');

      // the same URL again, as a reload or the history would bring it
      const again = await page.goto(callback!);
      t.equal(again?.status(), 200);
      t.equal(page.url(), `${gateway}/agent/tickets/3?tab=notes`, 'signed in: taken where the sign-in was going');
      t.equal(await page.textContent('#subject'), 'user-alice');

      // the gateway session gone (the provider still knows alice), the URL once more
      await context.clearCookies({ name: 'gatehouse-agent' });
      const used = await page.goto(callback!);
      t.equal(used?.status(), 400);
      t.equal(await page.textContent('h1'), 'This sign-in link was already used');
      const main = (await page.textContent('main')) ?? '';
      t.match(main, 'each one works only once');
      t.notMatch(main, /not started in this browser/, 'it was started here');
      t.match(main, 'GH_STATE_REUSED');
      await saveScreenshot(page, 'callback-already-used');
      await Promise.all([page.waitForURL(`${gateway}/agent/tickets/3?tab=notes`), page.getByRole('link', { name: 'Sign in again' }).click()]);
      t.equal(await page.textContent('#subject'), 'user-alice', 'one click signs in again, back on the page');
    });

    t.test('Cancel at the provider: "cancelled", and trying again signs in', async (t) => {
      const { page } = await freshPage(t, browser);
      await page.goto(`${gateway}/agent/tickets/8`);
      t.equal(new URL(page.url()).origin, provider);
      const cancelled = page.waitForResponse((r) => r.url().startsWith(`${gateway}${callbackPath}?`));
      await page.getByRole('button', { name: 'Cancel' }).click();
      t.equal((await cancelled).status(), 400);
      await page.waitForLoadState('load');
      t.equal(await page.textContent('h1'), 'Sign-in cancelled');
      const main = (await page.textContent('main')) ?? '';
      t.match(main, 'The sign-in was cancelled at the sign-in provider, so you are not signed in.');
      t.notMatch(main, /refused the sign-in/);
      await saveScreenshot(page, 'sign-in-cancelled', readmeImagePath('sign-in-cancelled'));
      await Promise.all([
        page.waitForURL((u) => u.origin === provider && u.pathname.startsWith('/interaction/')),
        page.getByRole('link', { name: 'Try again' }).click(),
      ]);
      await fillProviderLogin(page, ALICE);
      t.equal(page.url(), `${gateway}/agent/tickets/8`, 'back where the person was going');
      t.equal(await page.textContent('#subject'), 'user-alice');
    });
  });
}
