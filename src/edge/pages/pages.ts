/**
 * The pages themselves: sign-in button, sign-out confirmation, "you are signed
 * out", errors. Every page ends in something a person can do next (a button or
 * a link); only error pages show a request id, because only there does support
 * need one.
 */
import { escapeHtml, renderPage, type PageTheme } from './layout.js';

/** What a page offers next: a link (GET, safe to reload) or a form posted to this site. */
export type PageAction =
  /** `asButton`: drawn as a button even when it is not the first (choices of equal weight) */
  { kind: 'link'; href: string; label: string; asButton?: boolean } | { kind: 'form'; action: string; fields: Readonly<Record<string, string>>; label: string };

/** Who the provider said the person is, as far as the session or the ID token tells. */
export interface AccountShown {
  email?: string | undefined;
  name?: string | undefined;
}

function renderAction(action: PageAction, primary: boolean): string {
  if (action.kind === 'link') {
    return primary
      ? `<p><a class="button" href="${escapeHtml(action.href)}">${escapeHtml(action.label)}</a></p>`
      : `<p><a href="${escapeHtml(action.href)}">${escapeHtml(action.label)}</a></p>`;
  }
  const fields = Object.entries(action.fields)
    .map(([name, value]) => `<input type="hidden" name="${escapeHtml(name)}" value="${escapeHtml(value)}">`)
    .join('');
  return `<form method="post" action="${escapeHtml(action.action)}">${fields}<button type="submit">${escapeHtml(action.label)}</button></form>`;
}

function renderActions(actions: readonly PageAction[]): string {
  return actions.map((action, i) => renderAction(action, i === 0 || (action.kind === 'link' && action.asButton === true))).join('');
}

export function signInPage(theme: PageTheme, opts: { realm: string; returnTo: string; buttonText: string }): string {
  const body =
    `<p>${theme.titled ? 'Sign in to continue.' : `Sign in to continue to ${escapeHtml(theme.title)}.`}</p>` +
    `<form method="post" action="/.gatehouse/login">` +
    `<input type="hidden" name="realm" value="${escapeHtml(opts.realm)}">` +
    `<input type="hidden" name="rd" value="${escapeHtml(opts.returnTo)}">` +
    `<button type="submit" autofocus>${escapeHtml(opts.buttonText)}</button></form>`;
  return renderPage(theme, theme.titled ? theme.title : 'Sign in', body, undefined, 'Sign in');
}

export function signOutPage(theme: PageTheme, opts: { logoutPath: string; csrfToken: string }): string {
  const body =
    `<p>Do you want to sign out?</p><form method="post" action="${escapeHtml(opts.logoutPath)}">` +
    `<input type="hidden" name="csrf" value="${escapeHtml(opts.csrfToken)}">` +
    `<button type="submit" autofocus>Sign out</button></form>`;
  return renderPage(theme, 'Sign out', body);
}

/** Where a sign-out ends (unless the operator chose another page): it says so, and the way back in. */
export function signedOutPage(theme: PageTheme, opts: { signInHref: string }): string {
  const body =
    `<p role="status">You are signed out of ${escapeHtml(theme.title)}.</p>` + renderActions([{ kind: 'link', href: opts.signInHref, label: 'Sign in again' }]);
  return renderPage(theme, 'You are signed out', body);
}

/** What the person is told happened, by code first, then by status. */
function headingOf(status: number, code: string): string {
  if (code === 'GH_UPSTREAM_UNAVAILABLE') return 'The helpdesk is unavailable';
  if (code === 'GH_UPSTREAM_TIMEOUT') return 'The helpdesk is taking too long';
  if (code === 'GH_CALLBACK_CANCELLED') return 'Sign-in cancelled';
  if (code === 'GH_STATE_REUSED') return 'This sign-in link was already used';
  if (code === 'GH_REALM_REQUIRED') return 'Which realm?';
  if (code.startsWith('GH_DISCOVERY')) return 'Sign-in is unavailable';
  if (code.startsWith('GH_ALLOW')) return 'Access denied';
  if (/^GH_(STATE|CODE|ISS|CALLBACK|TOKEN|ID_TOKEN|USERINFO)_/.test(code)) return 'Sign-in did not complete';
  if (status === 401) return 'Sign-in required';
  if (status === 403) return 'Access denied';
  if (status === 404) return 'Not found';
  if (status === 429) return 'Too many attempts';
  return status >= 500 ? 'Temporarily unavailable' : 'Something is not right';
}

/** What the person can do about it, in one sentence; support gets the request id shown below. */
function adviceOf(status: number, code: string): string {
  if (code === 'GH_DISCOVERY_FAILED') return 'Try again in a minute. If it keeps happening, contact support and quote the request ID below.';
  if (code === 'GH_CALLBACK_CANCELLED')
    return 'If you did not cancel it, the provider did not let this account in: contact support and quote the request ID below.';
  if (status === 503 || status === 502 || status === 504)
    return 'This is usually over soon. If it keeps happening, contact support and quote the request ID below.';
  if (status === 403) return 'If you think this account should have access, contact support and quote the request ID below.';
  if (status >= 500) return 'If it keeps happening, contact support and quote the request ID below.';
  return '';
}

function accountLine(account: AccountShown | undefined): string {
  if (!account || (!account.email && !account.name)) return '';
  const who =
    account.name && account.email
      ? `<strong>${escapeHtml(account.name)}</strong> (${escapeHtml(account.email)})`
      : `<strong>${escapeHtml((account.name ?? account.email)!)}</strong>`;
  return `<p>You are signed in at the sign-in provider as ${who}.</p>`;
}

export function errorPage(
  theme: PageTheme,
  opts: { status: number; code: string; message: string; requestId: string; actions?: readonly PageAction[] | undefined; account?: AccountShown | undefined },
): string {
  const advice = adviceOf(opts.status, opts.code);
  const body =
    accountLine(opts.account) +
    `<p role="alert">${escapeHtml(opts.message)}</p>` +
    (advice ? `<p>${escapeHtml(advice)}</p>` : '') +
    renderActions(opts.actions ?? []) +
    `<p class="meta">Error code: <code>${escapeHtml(opts.code)}</code> (HTTP ${opts.status})</p>`;
  return renderPage(theme, headingOf(opts.status, opts.code), body, opts.requestId);
}
