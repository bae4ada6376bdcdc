/**
 * Is this request signed in to its realm? The session cookie is looked up in
 * the session cache first; only a value never seen (or seen under an older
 * config) is opened, judged and prepared: identity headers and the signed
 * assertion are computed once per session, not per request. Every failure is
 * "signed out", never an error, except a session store outage (503).
 */
import type { Gateway, SessionEntry } from './gateway.js';
import type { RealmRuntime } from '../config/runtime.js';
import { joinChunks, splitIntoChunks, staleChunkNames } from '../session/codec.js';
import { judgeSession, needsTouch, type SessionData } from '../session/session.js';
import { refreshDueAt } from '../session/refresh.js';
import { buildIdentityHeaders } from '../identity/headers.js';
import { checkAllowRules } from '../allow/rules.js';
import { clearCookie, setCookie, type CookieJar } from './cookies.js';
import type { ErrorCode } from '../errors.js';

export type AuthResult =
  | { kind: 'signed-in'; entry: SessionEntry; setCookies: string[] | null }
  | { kind: 'forbidden'; entry: SessionEntry; code: ErrorCode }
  | { kind: 'signed-out'; reason: 'none' | 'invalid' | 'expired' | 'idle' | 'revoked' | 'ended'; clearCookies: string[] | null };

/**
 * What a touched cookie value was re-sealed as, and when. A browser sends a few
 * more requests with the old value while the new one is on its way (parallel
 * requests, tabs), and a client that ignores Set-Cookie sends only the old one:
 * for one touch interval they are all handed the same successor instead of each
 * paying a seal (and, on a cache miss, an open and a signature) of its own.
 * Weak: forgotten with the cache entry it belongs to.
 */
const resealedAs = new WeakMap<SessionEntry, { value: string; at: number }>();

/** Set-Cookie lines that store a session value in the browser, clearing chunks no longer used. */
export function sessionCookies(gw: Gateway, realm: RealmRuntime, value: string, cookies: CookieJar): string[] {
  const secure = gw.runtime.httpsOnly;
  const lifetimeSec = Math.ceil(gw.runtime.times.lifetimeMs / 1000);
  const chunks = splitIntoChunks(realm.cookieName, value);
  const lines = chunks.map(([name, chunk]) => setCookie(name, chunk, { secure, maxAge: lifetimeSec }));
  for (const name of staleChunkNames(cookies, realm.cookieName, chunks.length)) lines.push(clearCookie(name, secure));
  return lines;
}

export function clearSessionCookies(gw: Gateway, realm: RealmRuntime, cookies: CookieJar): string[] {
  return staleChunkNames(cookies, realm.cookieName, 0).map((name) => clearCookie(name, gw.runtime.httpsOnly));
}

/** Build the per-session work once: headers, allow verdict, assertion. */
export async function prepareEntry(gw: Gateway, realm: RealmRuntime, session: SessionData, now: number): Promise<SessionEntry> {
  const runtime = gw.runtime;
  const identity = { realm: realm.name, sub: session.sub, email: session.email, name: session.name, groups: session.groups, sid: session.sid };
  const assertion = await runtime.identity.signer.sign(identity, now);
  return {
    session,
    realm,
    generation: runtime.generation,
    refusal: checkAllowRules(realm.allow, session.claims, realm.claimNames.email),
    headers: buildIdentityHeaders(identity, runtime.identity.names),
    assertion,
    // renew when three quarters of the assertion's life are gone
    assertionRenewAt: now + Math.floor(runtime.identity.ttlMs * 0.75),
    checkedAt: now,
  };
}

/**
 * The common cases, decided without a promise: no session cookie at all, or a
 * cookie value in the session cache under this realm and config generation
 * whose session is valid, not revoked and allowed, with nothing due (recheck,
 * token refresh, touch, assertion renewal). Anything else is null, and
 * authenticate() decides it exactly as it always has — every condition here is
 * one of its own.
 */
export function authenticateFromCache(gw: Gateway, realm: RealmRuntime, cookies: CookieJar): AuthResult | null {
  const cookieValue = joinChunks(cookies, realm.cookieName);
  // no session cookie at all: authenticate()'s own first answer (an unauthenticated flood stays cheap)
  if (cookieValue === undefined) return { kind: 'signed-out', reason: 'none', clearCookies: null };
  const entry = gw.cache.get(cookieValue);
  if (entry === undefined) return null;
  const runtime = gw.runtime;
  const now = gw.now();
  if (entry.realm.name !== realm.name || entry.generation !== runtime.generation || now - entry.checkedAt > gw.store.recheckMs) return null;
  const session = entry.session;
  if (entry.refusal !== null || judgeSession(session, now, runtime.times) !== 'valid' || gw.revocations.isRevoked(session)) return null;
  // session/refresh.ts refreshIfDue hands the session back unchanged unless this holds
  if (gw.refresher && session.refreshToken !== undefined && session.tokensExpireAt !== undefined && runtime.refresh && now >= refreshDueAt(session)) return null;
  if (needsTouch(session, now, runtime.times) || now >= entry.assertionRenewAt) return null;
  return { kind: 'signed-in', entry, setCookies: null };
}

export async function authenticate(gw: Gateway, realm: RealmRuntime, cookies: CookieJar): Promise<AuthResult> {
  const cookieValue = joinChunks(cookies, realm.cookieName);
  if (cookieValue === undefined) return { kind: 'signed-out', reason: 'none', clearCookies: null };
  const runtime = gw.runtime;
  const now = gw.now();
  let entry = gw.cache.get(cookieValue);
  // an entry from another realm's cookie (same value presented under this realm's name) is never used
  if (entry && (entry.realm.name !== realm.name || entry.generation !== runtime.generation || now - entry.checkedAt > gw.store.recheckMs)) {
    gw.cache.delete(cookieValue);
    entry = undefined;
  }
  if (!entry) {
    const session = await gw.store.load(realm, cookieValue); // may throw GH_SESSION_STORE_UNAVAILABLE
    if (!session) return { kind: 'signed-out', reason: 'invalid', clearCookies: clearSessionCookies(gw, realm, cookies) };
    entry = await prepareEntry(gw, realm, session, now);
    gw.cache.set(cookieValue, entry);
  }
  let session = entry.session;
  const verdict = judgeSession(session, now, runtime.times);
  if (verdict !== 'valid') {
    gw.cache.delete(cookieValue);
    return { kind: 'signed-out', reason: verdict, clearCookies: clearSessionCookies(gw, realm, cookies) };
  }
  if (gw.revocations.isRevoked(session)) {
    gw.cache.delete(cookieValue);
    return { kind: 'signed-out', reason: 'revoked', clearCookies: clearSessionCookies(gw, realm, cookies) };
  }
  if (entry.refusal) return { kind: 'forbidden', entry, code: entry.refusal };

  let setCookies: string[] | null = null;
  if (gw.refresher && session.refreshToken !== undefined && session.tokensExpireAt !== undefined) {
    const refreshed = await gw.refresher.refreshIfDue(realm, session, cookieValue);
    if (refreshed === null) {
      gw.cache.delete(cookieValue);
      return { kind: 'signed-out', reason: 'ended', clearCookies: clearSessionCookies(gw, realm, cookies) };
    }
    if (refreshed !== session) session = refreshed;
  }
  const earlier = session === entry.session ? resealedAs.get(entry) : undefined;
  if (earlier !== undefined && now - earlier.at < runtime.times.touchIntervalMs) {
    // this very cookie value was re-sealed moments ago: the browser gets that value again, not another seal
    if (needsTouch(session, now, runtime.times)) setCookies = sessionCookies(gw, realm, earlier.value, cookies);
  } else if (session !== entry.session || needsTouch(session, now, runtime.times)) {
    // write "last seen" (and refreshed tokens) back; the new cookie value gets its own cache entry
    const touched: SessionData = { ...session, seenAt: now };
    const value = await gw.store.save(realm, touched, touched.createdAt + runtime.times.lifetimeMs - now);
    const next: SessionEntry = { ...entry, session: touched, checkedAt: now };
    gw.cache.set(value, next);
    if (value !== cookieValue) {
      // a touch: the old value stays cached, judged on its own sealed data as before, and remembers its successor;
      // refreshed tokens: the old value is dropped, so session/refresh.ts sees it again
      if (session === entry.session) resealedAs.set(entry, { value, at: now });
      else gw.cache.delete(cookieValue);
      setCookies = sessionCookies(gw, realm, value, cookies);
    } else {
      gw.cache.set(cookieValue, next);
    }
    entry = next;
  }
  if (now >= entry.assertionRenewAt) {
    const { session: s } = entry;
    entry.assertion = await runtime.identity.signer.sign({ realm: realm.name, sub: s.sub, email: s.email, name: s.name, groups: s.groups, sid: s.sid }, now);
    entry.assertionRenewAt = now + Math.floor(runtime.identity.ttlMs * 0.75);
  }
  return { kind: 'signed-in', entry, setCookies };
}
