/**
 * A page that stays open after its session ran out: its next XHR gets a 401
 * with JSON and an X-Gatehouse-Login header (never a redirect to the provider,
 * which fetch() could not follow across origins), and the page can send the
 * person through sign-in again and carry on. The gateway's clock is moved past
 * idle_timeout instead of waiting for it.
 */
import t from 'tap';
import { ALICE, browserForFile, fillProviderLogin, freshPage, recordNavigations, saveScreenshot, startQuietDemoStack } from '../helpers/browser.js';

const browser = await browserForFile(t);
if (browser) {
  t.test('an XHR after the session expired gets 401 and the page recovers', async (t) => {
    let clockOffsetMs = 0;
    const stack = await startQuietDemoStack(t, {
      now: () => Date.now() + clockOffsetMs,
      editYaml: (yaml) => yaml.replace('idle_timeout: 1h', 'idle_timeout: 1m'),
    });
    t.equal(stack.config.session.idle_timeout, '1m', 'the test runs with a short idle timeout');
    const gateway = stack.publicUrl;
    const { page } = await freshPage(t, browser);
    const whoami = `${gateway}/agent/api/whoami`;

    const pagePath = '/agent/tickets/5?tab=notes';
    await page.goto(gateway + pagePath);
    await fillProviderLogin(page, ALICE);
    t.equal(await page.textContent('#subject'), 'user-alice');

    // while the session lives the XHR is forwarded with the identity
    let [response] = await Promise.all([page.waitForResponse(whoami), page.click('#whoami')]);
    t.equal(response.status(), 200);
    await page.waitForFunction(() => document.getElementById('xhr-status')?.textContent?.startsWith('200'));
    t.match(await page.textContent('#xhr-status'), /"subject": "user-alice"/);

    clockOffsetMs = 2 * 60_000; // two minutes without a request: past idle_timeout
    [response] = await Promise.all([page.waitForResponse(whoami), page.click('#whoami')]);
    t.equal(response.status(), 401, 'the XHR is answered 401, not redirected');
    const login = await response.headerValue('x-gatehouse-login');
    // rd is the page that asked (its Referer), not the API URL: after sign-in the person lands on a page, not on JSON
    t.equal(login, `/.gatehouse/login?realm=agent&rd=${encodeURIComponent(pagePath)}`, 'the page is told where to sign in, and back to itself');
    t.match(await response.headerValue('www-authenticate'), /^Gatehouse realm="agent"/);
    // (Chromium never finishes a body the page does not read, so the JSON is read by a fetch of our own)
    const seen = await page.evaluate(async () => {
      const r = await fetch('/agent/api/whoami', { headers: { accept: 'application/json' } });
      return { status: r.status, redirected: r.redirected, body: (await r.json()) as { error: string; realm: string; login_url: string } };
    });
    t.match(
      seen,
      { status: 401, redirected: false, body: { error: 'GH_NOT_SIGNED_IN', realm: 'agent', login_url: login } },
      'JSON that says why and where to sign in',
    );
    const again = page.getByRole('link', { name: 'Sign in again' });
    await again.waitFor();
    await saveScreenshot(page, 'expired-xhr-401');

    // the provider still knows alice, so "Sign in again" needs no password and
    // brings her back to the page she was on, signed in
    // (the page is already at that URL, so wait for the navigation that lands there again)
    const landed = page.waitForResponse((r) => r.url() === gateway + pagePath && r.request().isNavigationRequest());
    const hops = recordNavigations(page);
    await again.click();
    t.equal((await landed).status(), 200);
    t.ok(
      hops.some((u) => u.startsWith(stack.provider.issuer)),
      'through the provider',
    );
    t.notOk(
      hops.some((u) => u.includes('/interaction/')),
      'which still knew alice: no password asked',
    );
    await page.waitForLoadState('load');
    t.equal(page.url(), gateway + pagePath, 'back on the page, not on the API URL');
    t.equal(await page.textContent('#subject'), 'user-alice', 'signed in again');
    [response] = await Promise.all([page.waitForResponse(whoami), page.click('#whoami')]);
    t.equal(response.status(), 200, 'the page works again');
    await page.waitForFunction(() => document.getElementById('xhr-status')?.textContent?.startsWith('200'));
    await saveScreenshot(page, 'expired-xhr-recovered');
  });
}
