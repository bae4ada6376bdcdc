/**
 * A user signs in, seen through headless Chromium against the demo stack: the
 * user realm uses login: button, so Gatehouse's own sign-in page comes first,
 * with the configured text, and it works with the keyboard alone.
 */
import t from 'tap';
import { BOB, browserForFile, fillProviderLogin, freshPage, helpdeskView, readmeImagePath, saveScreenshot, startQuietDemoStack } from '../helpers/browser.js';

const browser = await browserForFile(t);
if (browser) {
  t.test('users sign in through a real browser', async (t) => {
    const stack = await startQuietDemoStack(t);
    const gateway = stack.publicUrl;
    const provider = new URL(stack.provider.issuer).origin;
    const buttonText = stack.config.realms.user!.button_text!;

    t.test('a user signs in at / through the button page', async (t) => {
      const { page } = await freshPage(t, browser);
      await page.goto(`${gateway}/`);
      t.equal(page.url(), `${gateway}/`, 'login: button shows our page, no redirect yet');
      const button = page.getByRole('button', { name: buttonText });
      t.equal(await button.count(), 1, 'the configured button text is shown');
      await Promise.all([page.waitForURL((u) => u.origin === provider), button.click()]);
      await fillProviderLogin(page, BOB);
      t.equal(page.url(), `${gateway}/`);
      const view = await helpdeskView(page);
      t.equal(view.realm, 'user');
      t.equal(view.subject, 'user-bob');
      t.equal(view.assertion, 'verified');
      // realms are separate: being a user does not make bob an agent
      const cookies = (await page.context().cookies(gateway)).map((c) => c.name);
      t.ok(
        cookies.some((n) => n.startsWith('gatehouse-user')),
        'user session cookie set',
      );
      t.notOk(
        cookies.some((n) => n.startsWith('gatehouse-agent')),
        'no agent session',
      );
      await saveScreenshot(page, 'user-sign-in');
    });

    t.test('the button page shows the configured text and works with the keyboard alone', async (t) => {
      const { page } = await freshPage(t, browser);
      await page.goto(`${gateway}/tickets/new?from=mail`);
      const button = page.getByRole('button', { name: buttonText });
      t.equal((await button.textContent())?.trim(), buttonText);
      // the demo, like the README's example, sets no pages.title: the page is named after the helpdesk's host
      t.equal(await page.title(), `Sign in · ${new URL(gateway).host}`, 'a title a person understands, not "Gatehouse · Gatehouse"');
      t.equal(await page.textContent('h1'), 'Sign in');
      t.notMatch(await page.textContent('main'), /Request ID/, 'not an error page: no request id');
      t.equal(await page.evaluate(() => document.activeElement?.textContent?.trim()), buttonText, 'the button has the focus on arrival');
      await saveScreenshot(page, 'button-page', readmeImagePath('sign-in'));

      // Enter on the focused button; then the provider form by keyboard: type, Tab, type, Enter
      await Promise.all([page.waitForURL((u) => u.origin === provider), page.keyboard.press('Enter')]);
      await page.locator('#username').waitFor();
      t.equal(await page.evaluate(() => document.activeElement?.id), 'username', 'the provider form has the focus');
      await page.keyboard.type(BOB.username);
      await page.keyboard.press('Tab');
      await page.keyboard.type(BOB.password);
      await Promise.all([page.waitForURL(`${gateway}/tickets/new?from=mail`), page.keyboard.press('Enter')]);
      t.equal(page.url(), `${gateway}/tickets/new?from=mail`, 'the path the person asked for');
      t.equal(await page.textContent('#subject'), 'user-bob');
      await saveScreenshot(page, 'keyboard-sign-in');
    });
  });
}
