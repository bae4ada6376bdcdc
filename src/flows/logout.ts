/**
 * Signing out (RP-initiated, OIDC RP-Initiated Logout 1.0). GET only shows a
 * confirmation page; only a POST from this site (Origin / Sec-Fetch-Site, or
 * the page's token) ends the session, so a cross-site image or link cannot
 * sign anyone out. The session is revoked (a copied cookie dies too), the
 * cookies are cleared, and the browser goes to the provider's
 * end_session_endpoint when it has one, with a `state` that it must bring back
 * to post_logout_redirect_uri. There, unless the operator chose another page
 * (post_logout_redirect), the person is told they are signed out.
 */
import { createHmac } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Gateway } from '../gateway.js';
import type { RealmRuntime } from '../runtime.js';
import { joinChunks } from '../session/codec.js';
import { randomText } from '../session/random.js';
import { constantTimeEqual } from '../oidc/id-token.js';
import { clearSessionCookies } from './authenticate.js';
import { clearCookie, setCookie, type CookieJar } from '../edge/cookies.js';
import { htmlAnswer, isNavigation, type Answer, type RequestHead } from '../edge/respond.js';
import { loginUrl } from '../routing/return-to.js';
import { signOutPage, signedOutPage } from '../edge/pages/pages.js';
import { contentSecurityPolicy } from '../edge/pages/layout.js';
import type { SessionData } from '../session/session.js';

/** How long the provider may take to send the browser back after sign-out (its own "sign out?" page included). */
const LOGOUT_STATE_TTL_MS = 10 * 60_000;

/** The confirmation form's token: bound to this session, useless to another site. */
function csrfToken(realm: RealmRuntime, sessionId: string): string {
  return createHmac('sha256', realm.sealKeys[0]!.key).update(`logout\u0000${sessionId}`).digest('base64url');
}

export function fromThisSite(req: RequestHead, publicOrigin: string): boolean {
  const site = req.headers['sec-fetch-site'];
  if (site !== undefined) return site === 'same-origin';
  return req.headers.origin === publicOrigin;
}

/** The cookie that carries an end-session request's state until the provider sends the browser back. */
function logoutStateCookieName(gw: Gateway, realm: RealmRuntime): string {
  return `${gw.runtime.cookiePrefix}gatehouse-logout-${realm.name}`;
}

async function currentSession(gw: Gateway, realm: RealmRuntime, cookies: CookieJar): Promise<{ session: SessionData; value: string } | null> {
  const value = joinChunks(cookies, realm.cookieName);
  if (value === undefined) return null;
  const session = await gw.store.load(realm, value);
  return session ? { session, value } : null;
}

/**
 * Where the confirmation form's POST may lead (CSP form-action governs the
 * redirects after it too): the provider's end_session_endpoint (its issuer's
 * origin until discovery is done) and a post_logout_redirect on another origin.
 */
function logoutFormTargets(gw: Gateway, realm: RealmRuntime): string[] {
  const targets = new Set<string>();
  const endSession = realm.provider.metadata?.end_session_endpoint;
  targets.add(new URL(endSession ?? realm.provider.issuer).origin);
  const after = new URL(realm.postLogoutRedirect).origin;
  if (after !== gw.runtime.publicOrigin) targets.add(after);
  targets.delete(gw.runtime.publicOrigin);
  return [...targets];
}

/** Where a finished sign-out leads: the operator's page, or ours that says so. */
function afterSignOut(realm: RealmRuntime): string {
  return realm.signedOutPage ? realm.logoutPath : realm.postLogoutRedirect;
}

/** GET on the logout path: the confirmation while signed in, "you are signed out" otherwise. */
export async function logoutPage(gw: Gateway, realm: RealmRuntime, cookies: CookieJar): Promise<Answer> {
  const theme = gw.runtime.theme;
  const current = await currentSession(gw, realm, cookies).catch(() => null);
  if (current === null) return htmlAnswer(200, signedOutPage(theme, { signInHref: loginUrl(realm, realm.paths[0] ?? '/') }), contentSecurityPolicy(theme));
  const html = signOutPage(theme, { logoutPath: realm.logoutPath, csrfToken: csrfToken(realm, current.session.id) });
  return htmlAnswer(200, html, contentSecurityPolicy(theme, logoutFormTargets(gw, realm)));
}

/**
 * End this realm's session in this browser: revoked everywhere (a copied
 * cookie dies too), destroyed in the store, audited. Returns the Set-Cookie
 * lines that clear it.
 */
export async function endSession(
  gw: Gateway,
  realm: RealmRuntime,
  cookies: CookieJar,
  requestId: string,
  ip: string,
): Promise<{ clear: string[]; session: SessionData | null }> {
  const current = await currentSession(gw, realm, cookies);
  const clear = clearSessionCookies(gw, realm, cookies);
  if (!current) return { clear, session: null };
  const { session, value } = current;
  // a shared list that cannot be written right now (Redis away) still revokes here at once and catches up on reconnect:
  // signing out never fails for that
  await gw.revocations
    .revoke({ kind: 'session', realm: realm.name, value: session.id, at: gw.now(), until: session.createdAt + gw.runtime.times.lifetimeMs })
    .catch((error: unknown) => {
      gw.log.warn({ code: (error as { code?: string }).code ?? 'GH_INTERNAL', realm: realm.name, requestId }, 'sign-out not yet shared with other instances');
    });
  await gw.store.destroy(realm, value, session);
  gw.cache.delete(value);
  gw.metrics.signOut(realm.name, 'rp');
  gw.log.info({ audit: 'sign-out', realm: realm.name, sub: session.sub, ip, requestId }, 'signed out');
  return { clear, session };
}

export async function logout(
  gw: Gateway,
  realm: RealmRuntime,
  req: IncomingMessage,
  form: Record<string, unknown>,
  cookies: CookieJar,
  requestId: string,
  ip: string,
): Promise<Answer> {
  const current = await currentSession(gw, realm, cookies);
  const token = typeof form.csrf === 'string' ? form.csrf : '';
  const allowed =
    fromThisSite(req, gw.runtime.publicOrigin) || (current !== null && token.length > 0 && constantTimeEqual(token, csrfToken(realm, current.session.id)));
  if (!allowed) return logoutPage(gw, realm, cookies);

  const { clear, session } = await endSession(gw, realm, cookies, requestId, ip);
  let location = afterSignOut(realm);
  const endSessionEndpoint = realm.provider.metadata?.end_session_endpoint;
  if (session && endSessionEndpoint) {
    const url = new URL(endSessionEndpoint);
    if (session.idToken) url.searchParams.set('id_token_hint', session.idToken);
    url.searchParams.set('client_id', realm.credentials.clientId);
    url.searchParams.set('post_logout_redirect_uri', realm.postLogoutRedirect);
    // RP-Initiated Logout 1.0 §2: state comes back with the redirect; some providers only redirect when it is there
    const state = randomText(32);
    url.searchParams.set('state', state);
    clear.push(setCookie(logoutStateCookieName(gw, realm), state, { secure: gw.runtime.httpsOnly, maxAge: LOGOUT_STATE_TTL_MS / 1000 }));
    location = url.href;
  }
  return { status: 303, headers: { location, 'set-cookie': clear, 'cache-control': 'no-store' }, body: '' };
}

/**
 * The provider sending the browser back to post_logout_redirect_uri after
 * sign-out: a navigation to that page whose `state` is the one this browser's
 * end-session request carried. Answered with where a finished sign-out leads
 * (the state cookie cleared); anything else is an ordinary visit (null).
 * Only called for a browser that is not signed in to the realm.
 */
export function postLogoutLanding(gw: Gateway, req: RequestHead, realm: RealmRuntime, pathAndQuery: string, cookies: CookieJar): Answer | null {
  const cookieName = logoutStateCookieName(gw, realm);
  const expected = cookies[cookieName];
  if (expected === undefined || !isNavigation(req)) return null;
  const landing = new URL(realm.postLogoutRedirect);
  if (landing.origin !== gw.runtime.publicOrigin) return null;
  const here = new URL(pathAndQuery, gw.runtime.publicOrigin);
  const state = here.searchParams.get('state');
  if (here.pathname !== landing.pathname || state === null || !constantTimeEqual(state, expected)) return null;
  return {
    status: 303,
    headers: { location: afterSignOut(realm), 'set-cookie': [clearCookie(cookieName, gw.runtime.httpsOnly)], 'cache-control': 'no-store' },
    body: '',
  };
}
