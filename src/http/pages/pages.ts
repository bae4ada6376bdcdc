/** The pages themselves: sign-in button, sign-out confirmation, errors. */
import { escapeHtml, renderPage, type PageTheme } from './layout.js';

export function signInPage(theme: PageTheme, opts: { realm: string; returnTo: string; buttonText: string; requestId: string }): string {
  const body =
    `<p>Sign in to continue.</p>` +
    `<form method="post" action="/.gatehouse/login">` +
    `<input type="hidden" name="realm" value="${escapeHtml(opts.realm)}">` +
    `<input type="hidden" name="rd" value="${escapeHtml(opts.returnTo)}">` +
    `<button type="submit" autofocus>${escapeHtml(opts.buttonText)}</button></form>`;
  return renderPage(theme, theme.title, body, opts.requestId);
}

export function signOutPage(theme: PageTheme, opts: { logoutPath: string; csrfToken: string; requestId: string; signedIn: boolean }): string {
  const body = opts.signedIn
    ? `<p>Do you want to sign out?</p><form method="post" action="${escapeHtml(opts.logoutPath)}">` +
      `<input type="hidden" name="csrf" value="${escapeHtml(opts.csrfToken)}">` +
      `<button type="submit" autofocus>Sign out</button></form>`
    : `<p>You are signed out.</p>`;
  return renderPage(theme, 'Sign out', body, opts.requestId);
}

/** What the person is told happened, by code family first, then by status. */
function headingOf(status: number, code: string): string {
  if (code === 'GH_UPSTREAM_UNAVAILABLE') return 'The helpdesk is unavailable';
  if (code === 'GH_UPSTREAM_TIMEOUT') return 'The helpdesk is taking too long';
  if (code.startsWith('GH_DISCOVERY')) return 'Sign-in is unavailable';
  if (code.startsWith('GH_ALLOW')) return 'Access denied';
  if (/^GH_(STATE|CODE|ISS|CALLBACK|TOKEN|ID_TOKEN|USERINFO)_/.test(code)) return 'Sign-in did not complete';
  if (status === 401) return 'Sign-in required';
  if (status === 403) return 'Access denied';
  if (status === 404) return 'Not found';
  if (status === 429) return 'Too many attempts';
  return status >= 500 ? 'Temporarily unavailable' : 'Something is not right';
}

/** What the person can do about it; support gets the request id shown below. */
function adviceOf(status: number, code: string): string {
  if (status === 503 || status === 502 || status === 504) return 'This is usually over in a moment: wait a little and reload the page. If it keeps happening, contact support and quote the request ID below.';
  if (status === 403) return 'If you think you should have access, contact support and quote the request ID below.';
  if (/^GH_(STATE|CODE|ISS|CALLBACK)_/.test(code)) return 'Start again from the page you wanted to open.';
  if (status >= 500) return 'If it keeps happening, contact support and quote the request ID below.';
  return '';
}

export function errorPage(theme: PageTheme, opts: { status: number; code: string; message: string; requestId: string; retryHref?: string | undefined }): string {
  const advice = adviceOf(opts.status, opts.code);
  const retry = opts.retryHref ? `<p><a href="${escapeHtml(opts.retryHref)}">Sign in again</a></p>` : '';
  const body =
    `<p role="alert">${escapeHtml(opts.message)}</p>` +
    (advice ? `<p>${escapeHtml(advice)}</p>` : '') +
    retry +
    `<p class="meta">Error code: <code>${escapeHtml(opts.code)}</code> (HTTP ${opts.status})</p>`;
  return renderPage(theme, headingOf(opts.status, opts.code), body, opts.requestId);
}
