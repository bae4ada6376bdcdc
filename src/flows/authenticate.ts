/**
 * Is this request signed in to its realm? The session cookie is looked up in
 * the session cache first; only a value never seen (or seen under an older
 * config) is opened, judged and prepared: identity headers and the signed
 * assertion are computed once per session, not per request. The cache holds one
 * entry per session: an older value of a cached session (the cookie before its
 * last touch) is opened and judged on its own data, then answered from the
 * session's entry and handed that entry's value. Every failure is "signed
 * out", never an error, except a session store outage (503).
 */
import type { Gateway, SessionEntry } from '../gateway.js';
import type { RealmRuntime } from '../runtime.js';
import { joinChunks, splitIntoChunks, staleChunkNames } from '../session/codec.js';
import { judgeSession, needsTouch, type SessionData, type SessionTimes } from '../session/session.js';
import { refreshDue } from '../session/refresh.js';
import { ownCopy } from '../session/cache.js';
import { MAX_SESSION_VALUE_LENGTH, saveFittingSession } from '../session/fit.js';
import { buildIdentityHeaders, identityOf } from '../identity/headers.js';
import { checkAllowRules } from '../allow/rules.js';
import { clearCookie, setCookie, type CookieJar } from '../edge/cookies.js';
import { GatehouseError, type ErrorCode } from '../errors.js';

export type AuthResult =
  | { kind: 'signed-in'; entry: SessionEntry; setCookies: string[] | null }
  | { kind: 'forbidden'; entry: SessionEntry; code: ErrorCode }
  | { kind: 'signed-out'; reason: 'none' | 'invalid' | 'expired' | 'idle' | 'revoked' | 'ended'; clearCookies: string[] | null };

/**
 * 503 GH_REFRESH_UNAVAILABLE for a session whose tokens were refreshed but whose new claims could not
 * be checked in time: the answer still carries the refreshed session (a rotated refresh token is spent).
 */
export class RenewalUnavailableError extends GatehouseError {
  constructor(
    detail: string,
    readonly setCookies: string[] | null,
  ) {
    super('GH_REFRESH_UNAVAILABLE', detail);
  }
}

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

/** Claims of a cached session: they were judged when its entry was prepared (SessionEntry.session). */
const JUDGED_CLAIMS: Record<string, unknown> = Object.freeze({});

/**
 * What a cache entry keeps of a session: everything but the ID token (only
 * logout's hint, and logout opens the cookie itself) and the claims (judged
 * once, into the entry's refusal). Together they are most of a session's
 * memory (bench/session-memory.mjs); a write-back takes them from the value
 * again (wholeSession).
 */
function cachedPart(session: SessionData): SessionData {
  return session.idToken === undefined && session.claims === JUDGED_CLAIMS ? session : { ...session, idToken: undefined, claims: JUDGED_CLAIMS };
}

/**
 * The cached session with its ID token and claims again, for a write-back (touch, refresh): taken from
 * the value it is cached under (or from what opening that value gave this request). null: the value no
 * longer opens (the store dropped it).
 */
async function wholeSession(gw: Gateway, realm: RealmRuntime, cached: SessionData, value: string, opened: SessionData | null): Promise<SessionData | null> {
  const sealed = opened ?? (await gw.store.load(realm, value));
  return sealed === null ? null : { ...cached, idToken: sealed.idToken, claims: sealed.claims };
}

/** When an assertion signed now is signed again: three quarters of its life gone. */
function assertionRenewAt(gw: Gateway, now: number): number {
  return now + Math.floor(gw.runtime.identity.ttlMs * 0.75);
}

/** Build the per-session work once: headers, allow verdict, assertion. */
export async function prepareEntry(gw: Gateway, realm: RealmRuntime, session: SessionData, now: number): Promise<SessionEntry> {
  const runtime = gw.runtime;
  const identity = identityOf(realm.name, session);
  const assertion = ownCopy(await runtime.identity.signer.sign(identity, now));
  return {
    session: cachedPart(session),
    realm,
    generation: runtime.generation,
    refusal: checkAllowRules(realm.allow, session.claims, realm.claimNames.email),
    headers: buildIdentityHeaders(identity, runtime.identity.names),
    assertion,
    assertionRenewAt: assertionRenewAt(gw, now),
    checkedAt: now,
  };
}

// The decisions authenticate() takes, one predicate each: authenticateFromCache() asks the same ones.

/** A cached entry may answer for this realm now: the same realm, the current config, the store's recheck not yet due. */
function usable(gw: Gateway, entry: SessionEntry, realm: RealmRuntime, now: number): boolean {
  return entry.realm.name === realm.name && entry.generation === gw.runtime.generation && now - entry.checkedAt <= gw.store.recheckMs;
}

/** Why a session is signed out now (its own lifetime and idle time, then the revocation list), or null: it stands. */
function endedNow(gw: Gateway, session: SessionData, now: number): 'expired' | 'idle' | 'revoked' | null {
  const verdict = judgeSession(session, now, gw.runtime.times);
  if (verdict !== 'valid') return verdict;
  return gw.revocations.isRevoked(session) ? 'revoked' : null;
}

/** The session's tokens are to be refreshed (or its claims checked again) on this request. */
function refreshNow(gw: Gateway, session: SessionData, now: number): boolean {
  return gw.refresher !== null && refreshDue(gw.runtime, session, now);
}

/** "Last seen" is to be written back on this request. */
function touchNow(gw: Gateway, session: SessionData, now: number): boolean {
  return needsTouch(session, now, gw.runtime.times);
}

/**
 * The common cases, decided without a promise: no session cookie at all, or a
 * cookie value in the session cache that authenticate() would answer with no
 * step of its own — usable, standing, allowed, nothing due (refresh, touch,
 * assertion renewal): the same predicates. Anything else is null, for
 * authenticate() to decide.
 */
export function authenticateFromCache(gw: Gateway, realm: RealmRuntime, cookies: CookieJar): AuthResult | null {
  const cookieValue = joinChunks(cookies, realm.cookieName);
  // no session cookie at all: authenticate()'s own first answer (an unauthenticated flood stays cheap)
  if (cookieValue === undefined) return { kind: 'signed-out', reason: 'none', clearCookies: null };
  const entry = gw.cache.get(cookieValue);
  if (entry === undefined) return null;
  const now = gw.now();
  const session = entry.session;
  if (!usable(gw, entry, realm, now) || endedNow(gw, session, now) !== null || entry.refusal !== null) return null;
  if (refreshNow(gw, session, now) || touchNow(gw, session, now) || now >= entry.assertionRenewAt) return null;
  return { kind: 'signed-in', entry, setCookies: null };
}

/**
 * Is `older` (a cookie value's own session data, valid on its own) an earlier
 * state of the cached `cached`, to be answered from cached's entry? Only if it
 * was last seen no later, and either
 * - it is due for a touch: the value a touch replaced (a request sent before
 *   the browser had the successor, a client that ignores Set-Cookie), or an
 *   even older one; or
 * - its tokens are older: the value a token refresh replaced. Answered with the
 *   refreshed tokens, it never reaches session/refresh.ts again.
 * A value with neither was sealed within the touch interval from the same
 * tokens: with several workers (or instances) each touching the same
 * predecessor, another worker's successor — the one the browser kept. It is not
 * an older state: it becomes the session's entry (opened and prepared once)
 * rather than paying an open per request for as long as the browser sends it.
 */
function supersedes(cached: SessionData, older: SessionData, now: number, times: SessionTimes): boolean {
  if (cached.seenAt < older.seenAt) return false;
  return needsTouch(older, now, times) || (cached.tokensObtainedAt ?? cached.createdAt) > (older.tokensObtainedAt ?? older.createdAt);
}

/** A refreshed session whose claims no browser could carry back: ended everywhere, with an audit line (never a silent sign-out). */
async function endOversizedSession(gw: Gateway, realm: RealmRuntime, session: SessionData, cookieValue: string, length: number): Promise<void> {
  const now = gw.now();
  gw.log.info(
    {
      audit: 'session-ended',
      realm: realm.name,
      sub: session.sub,
      session: session.id,
      reason: 'GH_TOKEN_RESPONSE_INVALID',
      detail: `the refreshed session would be ${length} characters, more than the ${MAX_SESSION_VALUE_LENGTH} a browser sends back (claims too large)`,
    },
    "session ended: the provider's new claims are too large for a cookie",
  );
  await gw.revocations
    .revoke({ kind: 'session', realm: realm.name, value: session.id, at: now, until: session.createdAt + gw.runtime.times.lifetimeMs })
    .catch(() => {});
  await gw.store.destroy(realm, cookieValue, session).catch(() => {});
  gw.cache.delete(cookieValue);
}

export async function authenticate(gw: Gateway, realm: RealmRuntime, cookies: CookieJar): Promise<AuthResult> {
  const cookieValue = joinChunks(cookies, realm.cookieName);
  if (cookieValue === undefined) return { kind: 'signed-out', reason: 'none', clearCookies: null };
  const runtime = gw.runtime;
  const now = gw.now();
  // the value the entry is cached under: the cookie's own, or the successor an older value is answered with
  let cachedAs = cookieValue;
  let setCookies: string[] | null = null;
  // what opening cookieValue gave, when this request opened it and it is the value cached
  let opened: SessionData | null = null;
  let entry = gw.cache.get(cookieValue);
  // an entry from another realm's cookie (same value presented under this realm's name) is never used
  if (entry && !usable(gw, entry, realm, now)) {
    gw.cache.delete(cookieValue);
    entry = undefined;
  }
  if (!entry) {
    const session = await gw.store.load(realm, cookieValue); // may throw GH_SESSION_STORE_UNAVAILABLE
    if (!session) return { kind: 'signed-out', reason: 'invalid', clearCookies: clearSessionCookies(gw, realm, cookies) };
    // judged on its own sealed data before anything else: an old value that is idle (or expired, or revoked)
    // stays signed out, however fresh a newer value of the same session is
    const own = endedNow(gw, session, now);
    if (own !== null) return { kind: 'signed-out', reason: own, clearCookies: clearSessionCookies(gw, realm, cookies) };
    const newest = gw.cache.newestOf(session.id);
    if (
      newest !== undefined &&
      newest.value !== cookieValue &&
      usable(gw, newest.entry, realm, now) &&
      supersedes(newest.entry.session, session, now, runtime.times)
    ) {
      // an older value: answered with the session's entry and handed that entry's value again
      // (no seal, no signature, nothing cached for it)
      entry = newest.entry;
      cachedAs = newest.value;
      setCookies = sessionCookies(gw, realm, cachedAs, cookies);
    } else {
      opened = session;
      entry = await prepareEntry(gw, realm, session, now);
      // the session's one entry: the value cached for it before is dropped (an older one, or another worker's
      // successor of the same predecessor, which the browser did not keep)
      gw.cache.set(cookieValue, entry);
    }
  }
  let session = entry.session;
  const ended = endedNow(gw, session, now);
  if (ended !== null) {
    gw.cache.delete(cachedAs);
    return { kind: 'signed-out', reason: ended, clearCookies: clearSessionCookies(gw, realm, cookies) };
  }
  if (entry.refusal) return { kind: 'forbidden', entry, code: entry.refusal };

  let refreshed = false;
  const refreshing = refreshNow(gw, session, now);
  if (refreshing || touchNow(gw, session, now)) {
    // the entry keeps no ID token and no claims (cachedPart): what is written back must have them
    const whole = await wholeSession(gw, realm, session, cachedAs, opened);
    if (whole === null) {
      gw.cache.delete(cachedAs);
      return { kind: 'signed-out', reason: 'invalid', clearCookies: clearSessionCookies(gw, realm, cookies) };
    }
    session = whole;
  }
  if (refreshing) {
    const renewed = await gw.refresher!.refreshIfDue(realm, session, cachedAs);
    if (renewed === null) {
      gw.cache.delete(cachedAs);
      return { kind: 'signed-out', reason: 'ended', clearCookies: clearSessionCookies(gw, realm, cookies) };
    }
    if (renewed !== session) {
      session = renewed;
      refreshed = true;
    }
  }
  if (refreshed || touchNow(gw, session, now)) {
    // write "last seen" (and refreshed tokens) back. The new value's entry replaces the old value's at once
    // (cookie store: a new value per touch, refreshed tokens drop the old value too): a request still
    // carrying the old value is opened, judged on its own data, and answered from this entry (supersedes()).
    let touched: SessionData = { ...session, seenAt: now };
    let value: string;
    if (refreshed) {
      // a refresh puts a new ID token and new claims back: the same size cap as at sign-in (session/fit.ts)
      const fitted = await saveFittingSession(gw.store, gw.log, realm, touched, touched.createdAt + runtime.times.lifetimeMs - now);
      if (fitted.kind === 'too-large') {
        await endOversizedSession(gw, realm, touched, cachedAs, fitted.length);
        return { kind: 'signed-out', reason: 'ended', clearCookies: clearSessionCookies(gw, realm, cookies) };
      }
      ({ value, session: touched } = fitted);
    } else {
      value = await gw.store.save(realm, touched, touched.createdAt + runtime.times.lifetimeMs - now);
    }
    // after a refresh the identity may have changed at the provider: headers, assertion and verdict are
    // built again from it, never carried over from the entry of the sign-in
    const next: SessionEntry = refreshed ? await prepareEntry(gw, realm, touched, now) : { ...entry, session: cachedPart(touched), checkedAt: now };
    gw.cache.set(value, next);
    // set() dropped the value the index named; this one too, should the index have lost track of it
    if (value !== cachedAs) gw.cache.delete(cachedAs);
    // the Redis store keeps the browser's value across touches: nothing to send then
    setCookies = value === cookieValue ? null : sessionCookies(gw, realm, value, cookies);
    entry = next;
    if (touched.claimsStandUntil !== undefined && now >= touched.claimsStandUntil) {
      throw new RenewalUnavailableError("the provider's new claims could not be checked before the old ones ran out", setCookies);
    }
  }
  if (now >= entry.assertionRenewAt) {
    entry.assertion = await runtime.identity.signer.sign(identityOf(realm.name, entry.session), now);
    entry.assertionRenewAt = assertionRenewAt(gw, now);
  }
  return { kind: 'signed-in', entry, setCookies };
}
