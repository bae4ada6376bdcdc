/**
 * What a session is, when it is still valid, and when its "last seen" time
 * must be written again. Timestamps are sealed with the session, so lifetime
 * and idle timeout hold even for the stateless cookie store.
 */
import { randomBytes } from 'node:crypto';

export interface SessionData {
  v: 1;
  /** the gateway's own session id (random): revocation, logs, Redis keys */
  id: string;
  realm: string;
  sub: string;
  email?: string | undefined;
  name?: string | undefined;
  groups?: string[] | undefined;
  /** the provider's session id (`sid` claim), for back-channel logout */
  sid?: string | undefined;
  /** the claims the realm's allow rules look at, kept so they can be re-checked after a reload */
  claims: Record<string, unknown>;
  /** ms since epoch */
  createdAt: number;
  seenAt: number;
  idToken?: string | undefined;
  refreshToken?: string | undefined;
  /** when the provider's tokens expire (ms); refresh is due before this */
  tokensExpireAt?: number | undefined;
  /** when the current tokens were obtained (ms); absent = createdAt. Refresh is due in the last quarter of their life */
  tokensObtainedAt?: number | undefined;
  /**
   * when the provider last vouched for the identity and claims above (ms): the sign-in, or a refresh
   * whose ID token (or userinfo) was checked; absent = createdAt. Re-authorization is due
   * session.reauthorize_every after it.
   */
  authorizedAt?: number | undefined;
  /**
   * set while a refresh could not check the provider's new claims (its keys or userinfo unavailable):
   * the claims above carry the session until then (when the tokens they came with expired), and every
   * request tries the check again (with pauses); absent once the claims are checked
   */
  claimsStandUntil?: number | undefined;
}

export type SessionVerdict = 'valid' | 'expired' | 'idle';

export interface SessionTimes {
  lifetimeMs: number;
  idleTimeoutMs: number;
  /** how stale seenAt may be before the cookie is re-sealed */
  touchIntervalMs: number;
}

export function newSessionId(): string {
  return randomBytes(18).toString('base64url');
}

export function judgeSession(data: SessionData, now: number, times: SessionTimes): SessionVerdict {
  if (!(now < data.createdAt + times.lifetimeMs)) return 'expired';
  if (!(now < data.seenAt + times.idleTimeoutMs)) return 'idle';
  return 'valid';
}

/** The touch interval: often enough for idle_timeout to be accurate, rarely enough to be cheap. */
export function touchIntervalFor(idleTimeoutMs: number): number {
  return Math.max(1000, Math.min(60_000, Math.floor(idleTimeoutMs / 10)));
}

export function needsTouch(data: SessionData, now: number, times: SessionTimes): boolean {
  return now - data.seenAt >= times.touchIntervalMs;
}

/** A session that must be validated from a browser value: only well-typed objects pass. */
export function isSessionData(value: unknown, realm: string): value is SessionData {
  if (value === null || typeof value !== 'object') return false;
  const s = value as Partial<SessionData>;
  return (
    s.v === 1 &&
    typeof s.id === 'string' &&
    s.realm === realm &&
    typeof s.sub === 'string' &&
    s.sub.length > 0 &&
    typeof s.createdAt === 'number' &&
    typeof s.seenAt === 'number' &&
    s.claims !== null &&
    typeof s.claims === 'object'
  );
}

/** For logs: never the tokens themselves. */
export function describeSession(s: SessionData): Record<string, unknown> {
  return { id: s.id, realm: s.realm, sub: s.sub, sid: s.sid, idToken: s.idToken !== undefined, refreshToken: s.refreshToken !== undefined };
}
