/**
 * An agent signs in, seen through headless Chromium against the demo stack
 * (real oidc-provider with its own login form, the demo helpdesk, the
 * gateway): the agent realm uses login: automatic. Also deep links through the
 * provider, two tabs signing in at once, and the websocket a helpdesk page
 * opens once the person is in.
 */
import t from 'tap';
import {
  ALICE,
  browserForFile,
  fillProviderLogin,
  freshPage,
  helpdeskView,
  readmeImagePath,
  saveScreenshot,
  startQuietDemoStack,
  websocketStatus,
} from '../helpers/browser.js';

const browser = await browserForFile(t);
if (browser) {
  t.test('agents sign in through a real browser', async (t) => {
    const stack = await startQuietDemoStack(t);
    const gateway = stack.publicUrl;
    const provider = new URL(stack.provider.issuer).origin;

    t.test('an agent signs in at /agent through the provider form and sees their identity', async (t) => {
      const { page } = await freshPage(t, browser);
      await page.goto(`${gateway}/agent`);
      // login: automatic — straight to the provider, no page of ours in between
      t.equal(new URL(page.url()).origin, provider, 'the browser is at the provider');
      t.match(await page.textContent('h1'), 'Sign in');
      await fillProviderLogin(page, ALICE);
      t.equal(page.url(), `${gateway}/agent`, 'back where the agent started');
      const view = await helpdeskView(page);
      t.equal(view.realm, 'agent');
      t.equal(view.subject, 'user-alice');
      t.equal(view.assertion, 'verified', 'the helpdesk verified X-Auth-Assertion against the gateway JWKS');
      t.match(await page.textContent('#headers'), /alice@example\.com/);
      t.match(await page.textContent('#headers'), /helpdesk-agents/);
      const cookies = await page.context().cookies(gateway);
      const session = cookies.find((c) => c.name === 'gatehouse-agent' || c.name.startsWith('gatehouse-agent'));
      t.ok(session, 'the gateway set the agent session cookie');
      t.equal(session?.httpOnly, true, 'the session cookie is HttpOnly');
      t.equal(session?.sameSite, 'Lax');
      t.notOk(await page.evaluate(() => document.cookie.includes('gatehouse-')), 'page script cannot read the session cookie');
      await websocketStatus(page); // let the page settle before the picture
      await saveScreenshot(page, 'agent-sign-in', readmeImagePath('helpdesk'));
    });

    t.test('a deep link survives the round trip to the provider', async (t) => {
      const { page } = await freshPage(t, browser);
      await page.goto(`${gateway}/agent/tickets/42?tab=notes`);
      t.equal(new URL(page.url()).origin, provider);
      await fillProviderLogin(page, ALICE);
      t.equal(page.url(), `${gateway}/agent/tickets/42?tab=notes`, 'path and query came back intact');
      const view = await helpdeskView(page);
      t.equal(view.path, '/agent/tickets/42?tab=notes', 'the helpdesk was asked for the deep link');
      t.equal(view.subject, 'user-alice');
      await saveScreenshot(page, 'deep-link');
    });

    t.test('a websocket in the page works after sign-in', async (t) => {
      const { page } = await freshPage(t, browser);
      await page.goto(`${gateway}/agent/tickets/7`);
      await fillProviderLogin(page, ALICE);
      // the page opened ws://<gateway>/agent/ws with the session cookie; the helpdesk greets by X-Auth-Subject
      const status = await websocketStatus(page);
      t.match(status, /hello user-alice/, 'the upgrade was forwarded with the identity');
      t.match(status, /echo:ping/, 'messages flow both ways');

      // the same page opening a socket without the cookie is refused (no anonymous upgrade)
      await page.context().clearCookies();
      const closed = await page.evaluate(
        () =>
          new Promise<string>((resolve) => {
            const ws = new WebSocket(`ws://${location.host}/agent/ws`);
            ws.onmessage = (e) => resolve(`message ${String(e.data)}`);
            ws.onclose = () => resolve('closed');
          }),
      );
      t.equal(closed, 'closed', 'a websocket without a session gets nothing');
      await saveScreenshot(page, 'websocket');
    });

    t.test('two tabs sign in at once', async (t) => {
      const { context } = await freshPage(t, browser);
      const [one, two] = [await context.newPage(), await context.newPage()];
      // both tabs leave for the provider before either comes back: two login attempts in flight
      await Promise.all([one.goto(`${gateway}/agent/tickets/1`), two.goto(`${gateway}/agent/tickets/2?tab=history`)]);
      t.equal(new URL(one.url()).origin, provider);
      t.equal(new URL(two.url()).origin, provider);
      await Promise.all([fillProviderLogin(one, ALICE), fillProviderLogin(two, ALICE)]);
      t.equal(one.url(), `${gateway}/agent/tickets/1`, 'tab one lands on its own page');
      t.equal(two.url(), `${gateway}/agent/tickets/2?tab=history`, 'tab two lands on its own page');
      t.equal(await one.textContent('#subject'), 'user-alice');
      t.equal(await two.textContent('#subject'), 'user-alice');
      t.equal(await one.textContent('#assertion'), 'verified');
      t.equal(await two.textContent('#assertion'), 'verified');
      await saveScreenshot(one, 'two-tabs-1');
      await saveScreenshot(two, 'two-tabs-2');
    });
  });
}
