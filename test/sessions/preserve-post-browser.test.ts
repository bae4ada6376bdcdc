// The agent's reply survives the end of the session, in a real Chromium: the
// session ends while the form is open (signed out everywhere by an operator,
// or every cookie gone), the agent sends the form, signs in again (silently, or
// typing the password), and the helpdesk receives the reply exactly as typed,
// once, from the signed-in agent.
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import t from 'tap';
import { browserForFile, fillProviderLogin, freshPage, saveScreenshot } from '../helpers/browser.js';
import { ADMIN_TOKEN, ALICE, startCluster } from './fixtures/cluster.js';

const browser = await browserForFile(t);
if (browser) {
  interface Received {
    body: URLSearchParams;
    subject: string | undefined;
    origin: string | undefined;
    referer: string | undefined;
  }
  const received: Received[] = [];
  // a helpdesk with a reply form
  const helpdesk = createServer((req: IncomingMessage, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
    req.on('end', () => {
      const path = (req.url ?? '/').split('?')[0];
      res.setHeader('content-type', 'text/html; charset=utf-8');
      if (req.method === 'POST' && path === '/agent/tickets/1/reply') {
        received.push({
          body: new URLSearchParams(body),
          subject: req.headers['x-auth-subject'] as string | undefined,
          origin: req.headers.origin,
          referer: req.headers.referer,
        });
        res.end('<!doctype html><title>sent</title><p id="got">Reply received</p>');
        return;
      }
      res.end(
        '<!doctype html><meta charset="utf-8"><title>Ticket 1</title><form method="post" action="/agent/tickets/1/reply"><input type="hidden" name="csrf" value="helpdesk-csrf-1"><textarea id="reply" name="reply"></textarea><button id="send" type="submit">Send</button></form>',
      );
    });
  });
  await new Promise<void>((resolve) => helpdesk.listen(0, '127.0.0.1', resolve));
  t.teardown(
    () =>
      new Promise<void>((resolve) => {
        helpdesk.close(() => resolve());
        helpdesk.closeAllConnections();
      }),
  );
  const cluster = await startCluster({ store: 'cookie', instances: 1, upstreamUrl: `http://127.0.0.1:${(helpdesk.address() as AddressInfo).port}` });
  t.teardown(() => cluster.close());
  cluster.use(0);
  const ticket = `${cluster.publicUrl}/agent/tickets/1`;
  const typed = 'Thanks — we shipped a fix.\nLine two: ünïcödé & <b>not markup</b> "quoted"';

  t.test('signed out everywhere while typing: the reply arrives after a silent re-sign-in', async (t) => {
    received.length = 0;
    const { page } = await freshPage(t, browser);
    await page.goto(ticket);
    await fillProviderLogin(page, ALICE);
    t.equal(page.url(), ticket, 'signed in, on the ticket');
    await page.fill('#reply', typed);

    const ended = await fetch(`${cluster.publicUrl}/.gatehouse/admin/sign-out`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ sub: 'user-alice' }),
    });
    t.equal(ended.status, 200, 'the session ended while the form was open');

    await Promise.all([page.waitForURL(`${ticket}/reply`), page.click('#send')]);
    await page.locator('#got').waitFor();
    t.equal(received.length, 1, 'the helpdesk received the form once');
    const got = received[0]!;
    t.equal(got.body.get('reply'), typed.replace(/\n/g, '\r\n'), 'exactly what was typed (a browser sends textarea line breaks as CRLF)');
    t.equal(got.body.get('csrf'), 'helpdesk-csrf-1', "the helpdesk's own fields too");
    t.equal(got.subject, 'user-alice', 'from the signed-in agent');
    t.equal(got.origin, cluster.publicUrl, 'same-origin, as the original');
    t.equal(new URL(got.referer!).origin, cluster.publicUrl, 'with a same-origin Referer');
    await saveScreenshot(page, 'preserve-post-silent');
    const left = await page.evaluate(() => sessionStorage.getItem('gatehouse.preserved-post'));
    t.notOk(left?.includes('shipped a fix'), 'what was typed does not stay in the browser once delivered');

    // going back does not send it again
    await page.goBack();
    await page.waitForLoadState('load');
    t.equal(received.length, 1, 'no second delivery');
  });

  t.test('every cookie gone: the agent types the password again, the reply still arrives', async (t) => {
    received.length = 0;
    const { context, page } = await freshPage(t, browser);
    await page.goto(ticket);
    await fillProviderLogin(page, ALICE);
    await page.fill('#reply', typed);
    await context.clearCookies(); // gateway and provider: nobody remembers the agent
    await page.click('#send');
    await fillProviderLogin(page, ALICE);
    await page.waitForURL(`${ticket}/reply`);
    await page.locator('#got').waitFor();
    t.equal(received.length, 1);
    t.equal(received[0]!.body.get('reply'), typed.replace(/\n/g, '\r\n'));
    t.equal(received[0]!.subject, 'user-alice');
    await saveScreenshot(page, 'preserve-post-password');
  });
}
