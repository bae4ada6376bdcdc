/**
 * /.gatehouse/userinfo typed into the address bar (no Referer, no ?realm=):
 * signed in on one side, it answers for that side; signed in on both, the page
 * says what to add and links to each, and the person clicks one.
 */
import t from 'tap';
import { ALICE, browserForFile, fillProviderLogin, freshPage, saveScreenshot, startQuietDemoStack } from '../helpers/browser.js';

const browser = await browserForFile(t);
if (browser) {
  t.test('userinfo from the address bar', async (t) => {
    const stack = await startQuietDemoStack(t);
    const gateway = stack.publicUrl;
    const { page } = await freshPage(t, browser);
    await page.goto(`${gateway}/agent`);
    await fillProviderLogin(page, ALICE);
    t.equal(await page.textContent('#subject'), 'user-alice');

    const typed = await page.goto(`${gateway}/.gatehouse/userinfo`);
    t.equal(typed?.request().headers().referer, undefined, 'typed: no Referer');
    t.equal(typed?.status(), 200, 'one session cookie: its realm');
    t.match(JSON.parse((await page.textContent('body')) ?? '{}'), { realm: 'agent', sub: 'user-alice', email: 'alice@example.com' });

    // signed in on the user side too (the provider still knows alice)
    await page.goto(`${gateway}/`);
    await Promise.all([page.waitForURL(`${gateway}/`), page.getByRole('button', { name: 'Sign in with Demo SSO' }).click()]);
    t.equal(await page.textContent('#realm'), 'user');

    const ambiguous = await page.goto(`${gateway}/.gatehouse/userinfo`);
    t.equal(ambiguous?.status(), 400);
    t.equal(await page.textContent('h1'), 'Which realm?');
    t.match(await page.textContent('main'), 'add ?realm= and its name to the address');
    await saveScreenshot(page, 'userinfo-which-realm');
    await Promise.all([
      page.waitForURL(`${gateway}/.gatehouse/userinfo?realm=agent`),
      page.getByRole('link', { name: '/.gatehouse/userinfo?realm=agent' }).click(),
    ]);
    t.match(JSON.parse((await page.textContent('body')) ?? '{}'), { realm: 'agent', sub: 'user-alice' }, 'one click answers for the agent side');
  });
}
