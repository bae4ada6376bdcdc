/**
 * The provider goes down while a person is on the sign-in button page. The
 * button then leads to a 503 that says the provider is unreachable and offers
 * "Try again" as a link (a GET: no "reload the page", which would resubmit the
 * form); and a button page opened while the provider is known to be down says
 * so up front instead of offering a button that cannot work.
 */
import t from 'tap';
import { request } from 'undici';
import { browserForFile, freshPage, saveScreenshot, startQuietDemoStack } from '../helpers/browser.js';

/** Until the gateway's readiness says the realm's provider is down (it looks again at most once a second). */
async function untilProviderKnownDown(gateway: string, realm: string, deadlineMs = 15_000): Promise<boolean> {
  const until = Date.now() + deadlineMs;
  while (Date.now() < until) {
    const res = await request(`${gateway}/.gatehouse/readyz`);
    const body = (await res.body.json()) as { realms: Record<string, { provider: boolean }> };
    if (body.realms[realm]?.provider === false) return true;
    await new Promise((resolve) => setTimeout(resolve, 100)); // a poll interval, not a wait for the answer
  }
  return false;
}

const browser = await browserForFile(t);
if (browser) {
  t.test('the sign-in button while the provider is down', async (t) => {
    const stack = await startQuietDemoStack(t);
    const gateway = stack.publicUrl;
    const { page } = await freshPage(t, browser);
    await page.goto(`${gateway}/tickets/new`);
    const button = page.getByRole('button', { name: 'Sign in with Demo SSO' });
    t.equal(await button.count(), 1, 'the button page, while the provider is up');

    await stack.provider.close();
    t.ok(await untilProviderKnownDown(gateway, 'user'), 'the gateway noticed the provider is down');

    const methods: string[] = [];
    page.on('request', (r) => {
      if (r.isNavigationRequest()) methods.push(`${r.method()} ${r.url()}`);
    });
    const [answer] = await Promise.all([page.waitForResponse((r) => r.url() === `${gateway}/.gatehouse/login`), button.click()]);
    t.equal(answer.status(), 503);
    await page.waitForLoadState('load');
    t.equal(await page.textContent('h1'), 'Sign-in is unavailable');
    const main = (await page.textContent('main')) ?? '';
    t.match(main, 'The sign-in provider cannot be reached right now.');
    t.notMatch(main, /reload/i, 'no "reload the page" after a form POST');
    t.ok((main.match(/in a moment/g) ?? []).length <= 1, '"in a moment" at most once');
    await saveScreenshot(page, 'provider-down-after-button');

    const retry = page.getByRole('link', { name: 'Try again' });
    t.equal(await retry.getAttribute('href'), '/.gatehouse/login?realm=user&rd=%2Ftickets%2Fnew', 'a link that starts the sign-in again');
    await Promise.all([page.waitForURL(`${gateway}/.gatehouse/login?realm=user&rd=%2Ftickets%2Fnew`), retry.click()]);
    t.equal(methods.at(-1), `GET ${gateway}/.gatehouse/login?realm=user&rd=%2Ftickets%2Fnew`, 'trying again is a GET');
    t.equal(await page.textContent('h1'), 'Sign-in is unavailable', 'still down: the same page, which a reload can repeat safely');

    // the button page opened now says so up front
    const [fresh] = await Promise.all([page.waitForResponse(`${gateway}/tickets/new`), page.goto(`${gateway}/tickets/new`)]);
    t.equal(fresh.status(), 503);
    t.equal(await page.getByRole('button', { name: 'Sign in with Demo SSO' }).count(), 0, 'no button that cannot work');
    t.match(await page.textContent('main'), 'The sign-in provider cannot be reached right now.');
    t.equal(await page.getByRole('link', { name: 'Try again' }).getAttribute('href'), '/.gatehouse/login?realm=user&rd=%2Ftickets%2Fnew');
    await saveScreenshot(page, 'provider-down-button-page');
  });
}
