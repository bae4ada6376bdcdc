// Every page a person sees from the gateway: small, accessible, themable, no
// external assets, a strict Content-Security-Policy (the one inline style
// allowed by its hash, no script), a request id to quote — and never an
// internal detail.
import t from 'tap';
import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { fetchWithJar, CookieJar, type BrowserResponse } from '../helpers/browserless.js';
import { ALICE, BOB, NAVIGATION, startTestStack } from '../helpers/stack.js';
import { errorAnswer } from '../../src/http/respond.js';
import { buildTheme } from '../../src/http/pages/layout.js';
import type { ErrorCode } from '../../src/errors.js';

const THEMED = (yaml: string): string =>
  `${yaml}pages:\n  title: Acme Support\n  logo_url: https://cdn.acme.example/logo.svg\n  accent_color: '#123456'\n  background_color: '#fafafa'\n  text_color: '#111111'\n`;

/** The checks every page must pass; `allowedOrigins` are the only absolute URLs it may name. */
function checkPage(t: Tap.Test, page: Pick<BrowserResponse, 'status' | 'headers' | 'body'>, what: string, allowedOrigins: string[] = []): void {
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
      if (/^[a-z][a-z0-9+.-]*:/i.test(url!) || url!.startsWith('//')) t.ok(allowedOrigins.some((o) => url!.startsWith(o)), `only allowed absolute URLs (${url})`);
    }
    t.match(page.body, /<html lang="en">/, 'language set');
    t.match(page.body, /<main>.*<h1>[^<]+<\/h1>/s, 'one main landmark and a heading');
    t.match(page.body, /name="viewport"/);
    t.match(page.body, /Request ID: <code>[A-Za-z0-9._:-]+<\/code>/, 'a request id to quote');
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
  t.match(signInPage.body, /<title>Acme Support · Acme Support<\/title>|<title>[^<]*Acme Support<\/title>/);
  t.match(signInPage.body, /<img class="logo" src="https:\/\/cdn\.acme\.example\/logo\.svg" alt="Acme Support">/, 'the configured logo');
  t.match(signInPage.body, /--accent:#123456/, 'the configured colors');
  t.match(signInPage.headers['content-security-policy'], /img-src https:\/\/cdn\.acme\.example;/);
  t.match(signInPage.headers['content-security-policy'], new RegExp(`form-action 'self' ${stack.provider.issuer.replace(/[.:/]/g, '\\$&')}`), 'the form may post here (and to the provider it redirects to)');

  // error after a failed sign-in (a callback this browser did not start)
  const failed = await fetchWithJar(`${base}/agent/login/authenticate-callback/1?code=x&state=not-mine&iss=${encodeURIComponent(stack.provider.issuer)}`, { headers: { ...NAVIGATION } });
  t.equal(failed.status, 400);
  checkPage(t, failed, 'failed sign-in page', [logo]);
  t.match(failed.body, /<h1>Sign-in did not complete<\/h1>/);
  t.match(failed.body, /GH_STATE_MISMATCH/);
  t.match(failed.body, /<a href="\/\.gatehouse\/login\?realm=agent&amp;rd=%2Fagent">Sign in again<\/a>/);
  t.equal(failed.body.match(/Request ID: <code>([^<]+)<\/code>/)?.[1], failed.headers['x-request-id'], 'the id on the page is the one in the logs');

  // 403: bob is refused by the agent realm
  const bob = await stack.signIn('/', BOB);
  const denied = await stack.signIn('/agent/', BOB, bob.jar);
  t.equal(denied.final.status, 403);
  checkPage(t, denied.final, '403 page', [logo]);
  t.match(denied.final.body, /<h1>Access denied<\/h1>/);
  t.match(denied.final.body, /contact support and quote the request ID/);

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
  const theme = buildTheme({ title: 'Helpdesk', accent_color: '#2f6fde', background_color: '#f6f7f9', text_color: '#1d2330', logo_url: '/assets/logo.svg' });
  const html = { headers: { accept: 'text/html' } } as unknown as IncomingMessage;
  const json = { headers: { accept: 'application/json' } } as unknown as IncomingMessage;
  const cases: Array<[ErrorCode, number, RegExp]> = [
    ['GH_NOT_SIGNED_IN', 401, /<h1>Sign-in required<\/h1>/],
    ['GH_ALLOW_EMAIL_DOMAIN', 403, /<h1>Access denied<\/h1>/],
    ['GH_UPSTREAM_UNAVAILABLE', 502, /<h1>The helpdesk is unavailable<\/h1>/],
    ['GH_DISCOVERY_FAILED', 503, /<h1>Sign-in is unavailable<\/h1>.*wait a little and reload/s],
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
