/**
 * A refused person has a way out. Bob, signed in on the user side, opens
 * /agent: the provider still knows him and signs him in silently, and the
 * agent realm's allow rules refuse him (GH_ALLOW_CLAIM). The page says which
 * account was refused, and "Use another account" asks the provider to let the
 * person choose (prompt=login at the demo provider, which advertises no
 * select_account) instead of signing bob in again onto the same page.
 * The same holds for a session the rules refuse later (a reload of the config).
 */
import t from 'tap';
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

const browser = await browserForFile(t);
if (browser) {
  t.test('bob is refused at /agent, sees who he is, and signs in as alice instead', async (t) => {
    const stack = await startQuietDemoStack(t);
    const gateway = stack.publicUrl;
    const provider = new URL(stack.provider.issuer).origin;
    const { context, page } = await freshPage(t, browser);

    await page.goto(`${gateway}/`);
    await Promise.all([page.waitForURL((u) => u.origin === provider), page.getByRole('button', { name: 'Sign in with Demo SSO' }).click()]);
    await fillProviderLogin(page, BOB);
    t.equal(await page.textContent('#subject'), 'user-bob', 'bob is signed in on the user side');

    let hops = recordNavigations(page);
    const response = await page.goto(`${gateway}/agent/tickets/3`);
    t.notOk(
      hops.some((u) => u.includes('/interaction/')),
      'the provider signed bob in silently',
    );
    t.equal(response?.status(), 403);
    t.equal(await page.textContent('h1'), 'Access denied');
    const main = (await page.textContent('main')) ?? '';
    t.match(main, 'You are signed in at the sign-in provider as Bob Customer (bob@example.com).', 'which account was refused');
    t.match(main, 'GH_ALLOW_CLAIM');
    t.equal(await page.getByRole('link', { name: 'Sign in again' }).count(), 0, 'no "sign in again" that would only sign bob in again');
    await saveScreenshot(page, 'refused', readmeImagePath('refused'));

    hops = recordNavigations(page);
    await Promise.all([
      page.waitForURL((u) => u.origin === provider && u.pathname.startsWith('/interaction/')),
      page.getByRole('button', { name: 'Use another account' }).click(),
    ]);
    const authorize = hops.find((u) => new URL(u).origin === provider && new URL(u).pathname.startsWith('/auth'));
    t.equal(new URL(authorize!).searchParams.get('prompt'), 'login', 'the provider is asked to let the person choose (it advertises no select_account)');
    t.equal(await page.locator('#login-form').count(), 1, 'the provider asks who is signing in, instead of reusing bob');
    await fillProviderLogin(page, ALICE);
    t.equal(page.url(), `${gateway}/agent/tickets/3`, 'back where the person was going');
    t.equal(await page.textContent('#subject'), 'user-alice');
    t.equal(await page.textContent('#realm'), 'agent');
    t.ok(
      (await context.cookies(gateway)).some((c) => c.name === 'gatehouse-user'),
      "bob's user-side session is not this realm's to end",
    );
  });

  t.test('a session the rules refuse later: the same page, and the refused session ends', async (t) => {
    const stack = await startQuietDemoStack(t);
    const gateway = stack.publicUrl;
    const provider = new URL(stack.provider.issuer).origin;
    const { context, page } = await freshPage(t, browser);
    await page.goto(`${gateway}/agent/tickets/4`);
    await fillProviderLogin(page, ALICE);
    t.equal(await page.textContent('#subject'), 'user-alice');
    const refused = (await context.cookies(gateway)).find((c) => c.name === 'gatehouse-agent')!;

    // the operator narrows the agent realm to a group alice is not in, and reloads
    const edited = structuredClone(stack.gateway.gw.runtime.config);
    edited.realms.agent!.allow.claims = { groups: ['helpdesk-admins'] };
    await stack.gateway.reload(edited);

    const response = await page.goto(`${gateway}/agent/tickets/4`);
    t.equal(response?.status(), 403);
    t.match(await page.textContent('main'), 'You are signed in at the sign-in provider as Alice Agent (alice@example.com).');
    await Promise.all([
      page.waitForURL((u) => u.origin === provider && u.pathname.startsWith('/interaction/')),
      page.getByRole('button', { name: 'Use another account' }).click(),
    ]);
    t.notOk(
      (await context.cookies(gateway)).some((c) => c.name === 'gatehouse-agent'),
      'the refused session is cleared from the browser',
    );
    const replay = await page.request.get(`${gateway}/agent/api/whoami`, {
      headers: { accept: 'application/json', cookie: `gatehouse-agent=${refused.value}` },
    });
    t.equal(replay.status(), 401, 'and ended: a copy of it is refused as signed out');
  });
}
