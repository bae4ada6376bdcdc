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

export function errorPage(theme: PageTheme, opts: { status: number; code: string; message: string; requestId: string; retryHref?: string | undefined }): string {
  const heading = opts.status === 401 ? 'Sign-in required' : opts.status === 403 ? 'Access denied' : opts.status >= 500 ? 'Temporarily unavailable' : 'Something is not right';
  const retry = opts.retryHref ? `<p><a href="${escapeHtml(opts.retryHref)}">Try again</a></p>` : '';
  const body = `<p>${escapeHtml(opts.message)}</p>${retry}<p class="meta">Error code: <code>${escapeHtml(opts.code)}</code></p>`;
  return renderPage(theme, heading, body, opts.requestId);
}
