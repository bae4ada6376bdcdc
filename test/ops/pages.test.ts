// Every page a person sees from the gateway: small, accessible, themable, no
// external assets, a strict Content-Security-Policy (the one inline style
// allowed by its hash, no script), a request id to quote on error pages (and
// only there) — and never an internal detail.
import t from 'tap';
import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { fetchWithJar, CookieJar, type BrowserResponse } from '../helpers/browserless.js';
import { ALICE, BOB, NAVIGATION, startTestStack } from '../helpers/stack.js';
import { errorAnswer } from '../../src/edge/respond.js';
import { buildTheme } from '../../src/edge/pages/layout.js';
import { ERROR_CODES, type ErrorCode } from '../../src/errors.js';

const THEMED = (yaml: string): string =>
  `${yaml}pages:\n  title: Acme Support\n  logo_url: https://cdn.acme.example/logo.svg\n  accent_color: '#123456'\n  background_color: '#fafafa'\n  text_color: '#111111'\n`;

/** The checks every page must pass; `allowedOrigins` are the only absolute URLs it may name. */
function checkPage(
  t: Tap.Test,
  page: Pick<BrowserResponse, 'status' | 'headers' | 'body'>,
  what: string,
  allowedOrigins: string[] = [],
  isError = page.status >= 400,
): void {
  t.test(what, async (t) => {
    t.match(page.headers['content-type'], /^text\/html; charset=utf-8/);
    const csp = String(page.headers['content-security-policy'] ?? '');
    t.match(csp, /default-src 'none'/, 'CSP denies everything by default');
    t.match(csp, /frame-ancestors 'none'/, 'cannot be framed');
    t.match(csp, /base-uri 'none'/);
    t.notMatch(csp, /unsafe-inline|unsafe-eval|script-src/, 'no script allowed at all');
    const style = /<style>([^<]*)<\/style>/.exec(page.body)?.[1] ?? '';
    t.ok(csp.includes(`style-src 'sha256-${createHash('sha256').update(style).digest('base64')}'`), 'the inline style is allowed by its exact hash');
    t.notMatch(page.body, /<script|javascript:|\son[a-z]+=/i, 'no script, no inline handlers');
    for (const [, url] of page.body.matchAll(/(?:src|href|action)="([^"]*)"/g)) {
      if (/^[a-z][a-z0-9+.-]*:/i.test(url!) || url!.startsWith('//'))
        t.ok(
          allowedOrigins.some((o) => url!.startsWith(o)),
          `only allowed absolute URLs (${url})`,
        );
    }
    t.match(page.body, /<html lang="en">/, 'language set');
    t.match(page.body, /<main>.*<h1>[^<]+<\/h1>/s, 'one main landmark and a heading');
    t.match(page.body, /name="viewport"/);
    if (isError) t.match(page.body, /Request ID: <code>[A-Za-z0-9._:-]+<\/code>/, 'an error page has a request id to quote');
    else t.notMatch(page.body, /Request ID/, 'a page that is not an error shows no request id');
    t.equal(page.headers['x-content-type-options'], 'nosniff');
    t.equal(page.headers['cache-control'], 'no-store');
    t.ok(Buffer.byteLength(page.body) < 8 * 1024, 'small');
    t.notMatch(page.body, /127\.0\.0\.1|ECONN|Error:|at [A-Za-z.]+ \(|\/work\/|node_modules/, 'no internal detail');
  });
}

t.test('pages served by a themed gateway', async (t) => {
  const stack = await startTestStack({ editYaml: THEMED });
  t.teardown(() => stack.close());
  const base = stack.publicUrl;
  const logo = 'https://cdn.acme.example/';

  // sign-in button page (the user realm has login: button)
  const signInPage = await fetchWithJar(`${base}/`, { jar: new CookieJar(), headers: { ...NAVIGATION } });
  t.equal(signInPage.status, 200);
  checkPage(t, signInPage, 'sign-in page', [logo]);
  t.match(signInPage.body, /<button type="submit" autofocus>Sign in with Demo SSO<\/button>/);
  t.match(signInPage.body, /<title>Sign in · Acme Support<\/title>/);
  t.match(signInPage.body, /<h1>Acme Support<\/h1>/, 'pages.title heads the sign-in page');
  t.match(signInPage.body, /<img class="logo" src="https:\/\/cdn\.acme\.example\/logo\.svg" alt="Acme Support">/, 'the configured logo');
  t.match(signInPage.body, /--accent:#123456/, 'the configured colors');
  t.match(signInPage.headers['content-security-policy'], /img-src https:\/\/cdn\.acme\.example;/);
  t.match(
    signInPage.headers['content-security-policy'],
    new RegExp(`form-action 'self' ${stack.provider.issuer.replace(/[.:/]/g, '\\$&')}`),
    'the form may post here (and to the provider it redirects to)',
  );

  // error after a failed sign-in (a callback this browser did not start)
  const failed = await fetchWithJar(`${base}/agent/login/authenticate-callback/1?code=x&state=not-mine&iss=${encodeURIComponent(stack.provider.issuer)}`, {
    headers: { ...NAVIGATION },
  });
  t.equal(failed.status, 400);
  checkPage(t, failed, 'failed sign-in page', [logo]);
  t.match(failed.body, /<h1>Sign-in did not complete<\/h1>/);
  t.match(failed.body, /GH_STATE_MISMATCH/);
  t.match(failed.body, /<a class="button" href="\/\.gatehouse\/login\?realm=agent&amp;rd=%2Fagent">Sign in again<\/a>/);
  t.equal(failed.body.match(/Request ID: <code>([^<]+)<\/code>/)?.[1], failed.headers['x-request-id'], 'the id on the page is the one in the logs');

  // 403: bob is refused by the agent realm
  const bob = await stack.signIn('/', BOB);
  const denied = await stack.signIn('/agent/', BOB, bob.jar);
  t.equal(denied.final.status, 403);
  checkPage(t, denied.final, '403 page', [logo]);
  t.match(denied.final.body, /<h1>Access denied<\/h1>/);
  t.match(denied.final.body, /contact support and quote the request ID/);
  t.match(
    denied.final.body,
    /You are signed in at the sign-in provider as <strong>Bob Customer<\/strong> \(bob@example\.com\)/,
    'says which account was refused',
  );
  t.match(denied.final.body, /<button type="submit">Use another account<\/button>/);
  t.match(
    denied.final.headers['content-security-policy'],
    new RegExp(`form-action 'self' ${stack.provider.issuer.replace(/[.:/]/g, '\\$&')}`),
    'its form may lead to the provider',
  );

  // logout confirmation (GET shows it; only a POST from this site signs out)
  const alice = await stack.signIn('/agent/', ALICE);
  const confirm = await fetchWithJar(`${base}/agent/logout`, { jar: alice.jar, headers: { ...NAVIGATION } });
  t.equal(confirm.status, 200);
  checkPage(t, confirm, 'sign-out confirmation', [logo]);
  t.match(confirm.body, /<form method="post" action="\/agent\/logout">/);
  t.match(confirm.body, /<button type="submit" autofocus>Sign out<\/button>/);

  // 502 from the helpdesk (504 and the rest: the unit check below; test/ops/upstream-outage.test.ts drives a real 504)
  await stack.upstream.close();
  const down = await fetchWithJar(`${base}/tickets`, { jar: bob.jar, headers: { ...NAVIGATION } });
  t.equal(down.status, 502);
  checkPage(t, down, '502 page', [logo]);
  t.match(down.body, /<h1>The helpdesk is unavailable<\/h1>/);
});

t.test('every error status renders as a strict page for people and JSON for scripts', async (t) => {
  const theme = buildTheme(
    { title: 'Helpdesk', accent_color: '#2f6fde', background_color: '#f6f7f9', text_color: '#1d2330', logo_url: '/assets/logo.svg' },
    'helpdesk.example.com',
  );
  const html = { headers: { accept: 'text/html' } } as unknown as IncomingMessage;
  const json = { headers: { accept: 'application/json' } } as unknown as IncomingMessage;
  const cases: Array<[ErrorCode, number, RegExp]> = [
    ['GH_NOT_SIGNED_IN', 401, /<h1>Sign-in required<\/h1>/],
    ['GH_ALLOW_EMAIL_DOMAIN', 403, /<h1>Access denied<\/h1>/],
    ['GH_UPSTREAM_UNAVAILABLE', 502, /<h1>The helpdesk is unavailable<\/h1>/],
    ['GH_DISCOVERY_FAILED', 503, /<h1>Sign-in is unavailable<\/h1>.*cannot be reached right now\.<\/p><p>Try again in a minute\./s],
    ['GH_UPSTREAM_TIMEOUT', 504, /<h1>The helpdesk is taking too long<\/h1>/],
    ['GH_ID_TOKEN_SIGNATURE', 502, /<h1>Sign-in did not complete<\/h1>/],
    ['GH_INTERNAL', 500, /<h1>Temporarily unavailable<\/h1>/],
  ];
  for (const [code, status, heading] of cases) {
    const page = errorAnswer(html, theme, code, 'req-42');
    t.equal(page.status, status, code);
    t.match(page.body, heading);
    t.match(page.body, `Error code: <code>${code}</code> (HTTP ${status})`);
    checkPage(t, { status: page.status, headers: page.headers as Record<string, string>, body: page.body }, `${status} ${code} page`);
    t.match(page.headers['content-security-policy'], /img-src 'self';/, 'a logo path is allowed from this site only');
    const api = errorAnswer(json, theme, code, 'req-42');
    t.equal(api.status, status);
    t.match(api.headers['content-type'], /application\/json/);
    t.same(Object.keys(JSON.parse(api.body)).sort(), ['error', 'message', 'request_id'], 'JSON: code, safe message, request id — nothing else');
  }
});

t.test('without pages.title the sign-in page is named after the host, never "Gatehouse · Gatehouse"', async (t) => {
  const stack = await startTestStack();
  t.teardown(() => stack.close());
  t.equal(stack.config.pages.title, undefined, "the demo config sets no pages.title, like the README's example");
  const host = new URL(stack.publicUrl).host;
  const page = await fetchWithJar(`${stack.publicUrl}/`, { jar: new CookieJar(), headers: { ...NAVIGATION } });
  t.equal(page.status, 200);
  t.match(page.body, `<title>Sign in · ${host}</title>`);
  t.match(page.body, '<h1>Sign in</h1>');
  t.match(page.body, `<p>Sign in to continue to ${host}.</p>`);
  t.notMatch(page.body, /Gatehouse/, 'the product name is nothing a person signs in to');
  t.notMatch(page.body, /Request ID/, 'not an error page: no request id');
});

t.test('no 5xx page asks to reload (it may be a form resubmission) or says "in a moment" twice', async (t) => {
  const theme = buildTheme({ accent_color: '#2f6fde', background_color: '#f6f7f9', text_color: '#1d2330' }, 'helpdesk.example.com');
  const html = { headers: { accept: 'text/html' } } as unknown as IncomingMessage;
  for (const [code, spec] of Object.entries(ERROR_CODES)) {
    if (spec.status < 500) continue;
    const page = errorAnswer(html, theme, code as ErrorCode, 'req-1').body;
    t.notMatch(page, /reload/i, `${code}: no "reload"`);
    t.ok((page.match(/in a moment/g) ?? []).length <= 1, `${code}: "in a moment" at most once`);
  }
});
