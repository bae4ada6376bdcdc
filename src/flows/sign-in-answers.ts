/**
 * The pages on the way in, each with a way onward: the sign-in button page
 * (or, while the provider is known to be down, a page that says so with a
 * link that retries), a refusal that says which account was refused and
 * offers another one, and what a failed callback offers next.
 */
import type { Gateway } from '../gateway.js';
import type { RealmRuntime } from '../runtime.js';
import type { ErrorCode, GatehouseError } from '../errors.js';
import { errorAnswer, htmlAnswer, type Answer, type RequestHead } from '../edge/respond.js';
import { loginUrl } from '../routing/return-to.js';
import { signInPage, type AccountShown, type PageAction } from '../edge/pages/pages.js';
import { contentSecurityPolicy } from '../edge/pages/layout.js';
import type { CallbackOutcome } from './signin.js';
import type { SignedOutRequest } from '../edge/decide.js';

/** The form field that asks POST /.gatehouse/login for another account than the provider's current one. */
export const ANOTHER_ACCOUNT = { name: 'account', value: 'another' } as const;

/** The origin a sign-in form's POST is redirected to (the issuer's until discovery is done). */
export function providerOrigin(realm: RealmRuntime): string {
  return new URL(realm.provider.metadata?.authorization_endpoint ?? realm.provider.issuer).origin;
}

function tryAgain(realm: RealmRuntime, returnTo: string, label = 'Try again'): PageAction {
  return { kind: 'link', href: loginUrl(realm, returnTo), label };
}

/**
 * login: button, not signed in. While the provider is known to be unreachable
 * the button would only lead to an error page: say so instead, with a link
 * (a GET: following it again is no form resubmission) that tries again.
 */
export function signInPageAnswer({ gw, req, realm, returnTo, requestId, clearCookies }: SignedOutRequest): Answer {
  const headers: Record<string, string | string[]> = clearCookies ? { 'set-cookie': clearCookies } : {};
  const down = realm.provider.error;
  if (down !== null) return errorAnswer(req, gw.runtime.theme, down, requestId, { headers, actions: [tryAgain(realm, returnTo)] });
  const html = signInPage(gw.runtime.theme, { realm: realm.name, returnTo, buttonText: realm.buttonText });
  // CSP form-action also governs the redirect after the POST: allow the provider
  return htmlAnswer(200, html, contentSecurityPolicy(gw.runtime.theme, [providerOrigin(realm)]), headers);
}

/** Sign-in could not start (the provider is unreachable): a link that tries again, never "reload" (which would resubmit a form). */
export function signInUnavailableAnswer(
  gw: Gateway,
  req: RequestHead,
  realm: RealmRuntime,
  error: GatehouseError,
  returnTo: string,
  requestId: string,
): Answer {
  return errorAnswer(req, gw.runtime.theme, error, requestId, { actions: [tryAgain(realm, returnTo)] });
}

/**
 * Refused by the realm's allow rules: who was refused, and a way to sign in as
 * someone else. "Sign in again" alone would let the provider sign the same
 * account in silently and land on this page again.
 */
export function refusalAnswer(
  gw: Gateway,
  req: RequestHead,
  realm: RealmRuntime,
  code: ErrorCode,
  requestId: string,
  account: AccountShown | undefined,
  returnTo: string,
  headers?: Record<string, string | string[]>,
): Answer {
  const another: PageAction = {
    kind: 'form',
    action: '/.gatehouse/login',
    fields: { realm: realm.name, rd: returnTo, [ANOTHER_ACCOUNT.name]: ANOTHER_ACCOUNT.value },
    label: 'Use another account',
  };
  return errorAnswer(req, gw.runtime.theme, code, requestId, {
    actions: [another],
    formTargets: [providerOrigin(realm)],
    ...(account ? { account } : {}),
    ...(headers ? { headers } : {}),
  });
}

/** A callback that did not sign in: what it offers next depends on why. */
export function callbackFailureAnswer(
  gw: Gateway,
  req: RequestHead,
  realm: RealmRuntime,
  outcome: CallbackOutcome & { kind: 'failed' },
  requestId: string,
): Answer {
  const { error, returnTo } = outcome;
  const headers: Record<string, string | string[]> = outcome.setCookies.length ? { 'set-cookie': outcome.setCookies } : {};
  if (error.code.startsWith('GH_ALLOW_')) return refusalAnswer(gw, req, realm, error.code, requestId, outcome.account, returnTo, headers);
  const retry = error.code === 'GH_CALLBACK_CANCELLED' || error.status >= 500 ? tryAgain(realm, returnTo) : tryAgain(realm, returnTo, 'Sign in again');
  return errorAnswer(req, gw.runtime.theme, error, requestId, { headers, actions: [retry] });
}
