/**
 * Signing out (RP-initiated, OIDC RP-Initiated Logout 1.0). GET only shows a
 * confirmation page; only a POST from this site (Origin / Sec-Fetch-Site, or
 * the page's token) ends the session, so a cross-site image or link cannot
 * sign anyone out. The session is revoked (a copied cookie dies too), the
 * cookies are cleared, and the browser goes to the provider's
 * end_session_endpoint when it has one.
 */
import { createHmac } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Gateway } from './gateway.js';
import type { RealmRuntime } from '../config/runtime.js';
import { joinChunks } from '../session/codec.js';
import { constantTimeEqual } from '../oidc/id-token.js';
import { clearSessionCookies } from './authenticate.js';
import type { CookieJar } from './cookies.js';
import { htmlAnswer, type Answer } from './respond.js';
import { signOutPage } from './pages/pages.js';
import { contentSecurityPolicy } from './pages/layout.js';
import type { SessionData } from '../session/session.js';

/** The confirmation form's token: bound to this session, useless to another site. */
function csrfToken(realm: RealmRuntime, sessionId: string): string {
  return createHmac('sha256', realm.sealKeys[0]!.key).update(`logout\u0000${sessionId}`).digest('base64url');
}

export function fromThisSite(req: IncomingMessage, publicOrigin: string): boolean {
  const site = req.headers['sec-fetch-site'];
  if (site !== undefined) return site === 'same-origin';
  return req.headers.origin === publicOrigin;
}

async function currentSession(gw: Gateway, realm: RealmRuntime, cookies: CookieJar): Promise<{ session: SessionData; value: string } | null> {
  const value = joinChunks(cookies, realm.cookieName);
  if (value === undefined) return null;
  const session = await gw.store.load(realm, value);
  return session ? { session, value } : null;
}

export async function logoutPage(gw: Gateway, realm: RealmRuntime, cookies: CookieJar, requestId: string): Promise<Answer> {
  const current = await currentSession(gw, realm, cookies).catch(() => null);
  const html = signOutPage(gw.runtime.theme, { logoutPath: realm.logoutPath, csrfToken: current ? csrfToken(realm, current.session.id) : '', requestId, signedIn: current !== null });
  return htmlAnswer(200, html, contentSecurityPolicy(gw.runtime.theme));
}

export async function logout(gw: Gateway, realm: RealmRuntime, req: IncomingMessage, form: Record<string, unknown>, cookies: CookieJar, requestId: string, ip: string): Promise<Answer> {
  const current = await currentSession(gw, realm, cookies);
  const token = typeof form.csrf === 'string' ? form.csrf : '';
  const allowed = fromThisSite(req, gw.runtime.publicOrigin) || (current !== null && token.length > 0 && constantTimeEqual(token, csrfToken(realm, current.session.id)));
  if (!allowed) return logoutPage(gw, realm, cookies, requestId);

  const now = gw.now();
  const clear = clearSessionCookies(gw, realm, cookies);
  let location = realm.postLogoutRedirect;
  if (current) {
    const { session, value } = current;
    // a shared list that cannot be written right now (Redis away) still revokes here at once and catches up on reconnect:
    // signing out never fails for that
    await gw.revocations.revoke({ kind: 'session', realm: realm.name, value: session.id, at: now, until: session.createdAt + gw.runtime.times.lifetimeMs }).catch((error: unknown) => {
      gw.log.warn({ code: (error as { code?: string }).code ?? 'GH_INTERNAL', realm: realm.name, requestId }, 'sign-out not yet shared with other instances');
    });
    await gw.store.destroy(realm, value, session);
    gw.cache.delete(value);
    gw.metrics.signOut(realm.name, 'rp');
    gw.log.info({ audit: 'sign-out', realm: realm.name, sub: session.sub, ip, requestId }, 'signed out');
    const endSession = realm.provider.metadata?.end_session_endpoint;
    if (endSession) {
      const url = new URL(endSession);
      if (session.idToken) url.searchParams.set('id_token_hint', session.idToken);
      url.searchParams.set('client_id', realm.credentials.clientId);
      url.searchParams.set('post_logout_redirect_uri', realm.postLogoutRedirect);
      location = url.href;
    }
  }
  return { status: 303, headers: { location, 'set-cookie': clear, 'cache-control': 'no-store' }, body: '' };
}
