/**
 * Keeping a session's provider tokens fresh with the refresh token, without the
 * races that sign people out elsewhere:
 *
 * - Due in the last quarter of the tokens' life (at most 60 s before expiry),
 *   while the session is within lifetime and idle_timeout (authenticate.ts
 *   judges that first).
 * - One refresh per refresh token: requests of one session share one in-process
 *   flight; across instances a Redis lock (SET NX PX) lets one instance redeem
 *   the token while the others wait for its result.
 * - A rotated refresh token is never spent twice: the outcome is remembered for
 *   a few minutes under a hash of the old refresh token (and when its tokens
 *   were obtained), sealed with a key derived from that token (only a holder of the old token can read it). A
 *   request still carrying the old token — another tab's request in flight, the
 *   other instance, an old cookie — gets the new tokens instead of spending the
 *   old one again (which a rotating provider answers by revoking the grant).
 * - invalid_grant ends the session everywhere (revoked, and deleted from the
 *   store). A provider that cannot be reached, or answers 5xx, signs no one out:
 *   the session goes on until its tokens really expire, retried at most every
 *   few seconds; after that its requests get 503 GH_REFRESH_UNAVAILABLE, and the
 *   session resumes by itself when the provider is back.
 * - A refreshed ID token is validated (signature, iss, aud, sub unchanged,
 *   OIDC Core 12.2); one that fails ends the session.
 */
import { createHash, randomBytes } from 'node:crypto';
import { decodeJwt } from 'jose';
import type { RealmRuntime } from '../config/runtime.js';
import { GatehouseError, isGatehouseError } from '../errors.js';
import { refreshTokens, TokenEndpointError, type TokenSet } from '../oidc/token.js';
import { verifyRefreshedIdToken } from '../oidc/id-token.js';
import { deriveSealKeys, open, seal } from './codec.js';
import type { SessionData } from './session.js';
import type { SessionStore } from './store.js';
import type { RevocationList } from './revocation.js';
import type { Metrics } from '../observe/metrics.js';
import type { Logger } from '../observe/log.js';

const REFRESH_AHEAD_MAX_MS = 60_000;
/** never refresh tokens younger than this, whatever the provider says their life is */
const MIN_TOKEN_AGE_MS = 1000;
/** how long the outcome of a refresh stays available to holders of the old refresh token */
export const REFRESH_RESULT_TTL_MS = 2 * 60_000;
const LOCK_TTL_MS = 15_000;
const TOKEN_REQUEST_TIMEOUT_MS = 10_000;
/** after a failed attempt (provider unreachable), the same token is tried again after a quarter of its life, within these bounds */
const RETRY_AFTER_FAILURE_MIN_MS = 1000;
const RETRY_AFTER_FAILURE_MAX_MS = 5000;
const WAIT_POLL_MS = 50;
/** tokens from a provider that gives neither expires_in nor an ID token exp */
const DEFAULT_TOKEN_LIFE_MS = 5 * 60_000;
const MAX_LOCAL_ENTRIES = 10_000;

/** Where instances agree on who refreshes, and publish what came of it. */
export interface RefreshCoordination {
  /** A lock for one refresh token; returns the lock's token, or null when another holder has it. */
  tryLock(key: string, ttlMs: number): Promise<string | null>;
  unlock(key: string, lockToken: string): Promise<void>;
  /** the sealed outcome stored under key, if any */
  recall(key: string): Promise<string | null>;
  remember(key: string, sealed: string, ttlMs: number): Promise<void>;
}

type Outcome =
  | { kind: 'refreshed'; idToken?: string | undefined; refreshToken: string; tokensExpireAt: number; tokensObtainedAt: number }
  | { kind: 'ended'; reason: string }
  | { kind: 'unavailable'; detail: string };

/** For one process: locks and outcomes in memory (the in-process flight already serializes). */
export class MemoryRefreshCoordination implements RefreshCoordination {
  private readonly locks = new Map<string, { token: string; until: number }>();
  private readonly results = new Map<string, { sealed: string; until: number }>();
  constructor(private readonly now: () => number = Date.now) {}

  async tryLock(key: string, ttlMs: number): Promise<string | null> {
    const now = this.now();
    const held = this.locks.get(key);
    if (held && held.until > now) return null;
    const token = randomBytes(16).toString('base64url');
    this.locks.set(key, { token, until: now + ttlMs });
    return token;
  }

  async unlock(key: string, lockToken: string): Promise<void> {
    if (this.locks.get(key)?.token === lockToken) this.locks.delete(key);
  }

  async recall(key: string): Promise<string | null> {
    const hit = this.results.get(key);
    return hit && hit.until > this.now() ? hit.sealed : null;
  }

  async remember(key: string, sealed: string, ttlMs: number): Promise<void> {
    const now = this.now();
    if (this.results.size >= MAX_LOCAL_ENTRIES) for (const [k, v] of this.results) if (v.until <= now) this.results.delete(k);
    if (this.results.size >= MAX_LOCAL_ENTRIES) this.results.delete(this.results.keys().next().value!);
    this.results.set(key, { sealed, until: now + ttlMs });
  }
}

/** When the session's tokens are due for refresh (ms). */
export function refreshDueAt(session: SessionData): number {
  const expiresAt = session.tokensExpireAt ?? Number.POSITIVE_INFINITY;
  const obtainedAt = session.tokensObtainedAt ?? session.createdAt;
  const ahead = Math.min(REFRESH_AHEAD_MAX_MS, Math.max(0, (expiresAt - obtainedAt) / 4));
  return Math.max(expiresAt - ahead, obtainedAt + MIN_TOKEN_AGE_MS);
}

/**
 * A name for one refresh of one session's tokens that reveals nothing about the
 * token: the refresh token and when the tokens it belongs to were obtained.
 * Every holder of the same tokens (tabs, instances, cookie copies) computes the
 * same name; after a refresh the name changes even when the provider does not
 * rotate the refresh token, so an old outcome is never taken for a new refresh.
 */
export function refreshTokenKey(realm: string, session: Pick<SessionData, 'refreshToken' | 'tokensObtainedAt' | 'createdAt'>): string {
  const obtainedAt = session.tokensObtainedAt ?? session.createdAt;
  return createHash('sha256').update(`refresh\u0000${realm}\u0000${obtainedAt}\u0000${session.refreshToken ?? ''}`).digest('base64url');
}

function originalNonce(idToken: string | undefined): string | undefined {
  if (!idToken) return undefined;
  try {
    const nonce = decodeJwt(idToken).nonce;
    return typeof nonce === 'string' ? nonce : undefined;
  } catch {
    return undefined;
  }
}

/** What the refresher needs of the running gateway (http/gateway.ts Gateway has it; session/ does not import http/). */
export interface RefresherContext {
  readonly runtime: { readonly refresh: boolean; readonly clockToleranceSec: number; readonly times: { readonly lifetimeMs: number } };
  readonly store: SessionStore;
  readonly revocations: RevocationList;
  readonly cache: { delete(cookieValue: string): void };
  readonly metrics: Metrics;
  readonly log: Logger;
  readonly now: () => number;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Implements http/gateway.ts SessionRefresher. */
export class TokenRefresher {
  private readonly flights = new Map<string, Promise<Outcome>>();
  private readonly failedUntil = new Map<string, number>();
  /** this process's own memory of outcomes, in case the shared one cannot be written (Redis down) */
  private readonly local: MemoryRefreshCoordination;

  constructor(
    private readonly gw: RefresherContext,
    private readonly coordination: RefreshCoordination,
  ) {
    this.local = new MemoryRefreshCoordination(gw.now);
  }

  async refreshIfDue(realm: RealmRuntime, session: SessionData, cookieValue: string): Promise<SessionData | null> {
    const refreshToken = session.refreshToken;
    if (!this.gw.runtime.refresh || refreshToken === undefined || session.tokensExpireAt === undefined) return session;
    const now = this.gw.now();
    if (now < refreshDueAt(session)) return session;

    const key = refreshTokenKey(realm.name, session);
    let outcome: Outcome;
    const retryAt = this.failedUntil.get(key);
    if (retryAt !== undefined && now < retryAt) {
      outcome = { kind: 'unavailable', detail: 'a recent refresh attempt failed; waiting before the next one' };
    } else {
      let flight = this.flights.get(key);
      if (!flight) {
        flight = this.coordinate(realm, session, refreshToken, key).finally(() => this.flights.delete(key));
        this.flights.set(key, flight);
      }
      outcome = await flight;
    }

    switch (outcome.kind) {
      case 'refreshed':
        this.failedUntil.delete(key);
        return { ...session, idToken: outcome.idToken, refreshToken: outcome.refreshToken, tokensExpireAt: outcome.tokensExpireAt, tokensObtainedAt: outcome.tokensObtainedAt };
      case 'ended':
        await this.endSession(realm, session, cookieValue, outcome.reason);
        return null;
      case 'unavailable': {
        const waiting = this.failedUntil.get(key); // requests that shared one failed flight record it once
        if (waiting === undefined || now >= waiting) {
          if (this.failedUntil.size >= MAX_LOCAL_ENTRIES) this.failedUntil.clear();
          const life = session.tokensExpireAt - (session.tokensObtainedAt ?? session.createdAt);
          this.failedUntil.set(key, now + Math.min(RETRY_AFTER_FAILURE_MAX_MS, Math.max(RETRY_AFTER_FAILURE_MIN_MS, life / 4)));
          this.gw.log.warn({ realm: realm.name, session: session.id, code: 'GH_REFRESH_UNAVAILABLE', detail: outcome.detail }, 'token refresh failed; the session continues until its tokens expire');
        }
        // an unreachable provider signs no one out before the tokens really expire
        if (this.gw.now() < session.tokensExpireAt) return session;
        throw new GatehouseError('GH_REFRESH_UNAVAILABLE', outcome.detail);
      }
    }
  }

  /** Find an outcome someone already produced for this token, or produce it under the lock. */
  private async coordinate(realm: RealmRuntime, session: SessionData, refreshToken: string, key: string): Promise<Outcome> {
    const deadline = this.gw.now() + LOCK_TTL_MS + TOKEN_REQUEST_TIMEOUT_MS;
    try {
      for (;;) {
        const known = await this.recall(realm, refreshToken, key);
        if (known) return known;
        const lock = await this.coordination.tryLock(key, LOCK_TTL_MS);
        if (lock !== null) {
          try {
            // the holder before us may have finished between our recall and our lock
            const justDone = await this.recall(realm, refreshToken, key);
            if (justDone) return justDone;
            const outcome = await this.redeem(realm, session, refreshToken);
            if (outcome.kind !== 'unavailable') await this.publish(realm, refreshToken, key, outcome);
            return outcome;
          } finally {
            await this.coordination.unlock(key, lock).catch(() => {});
          }
        }
        if (this.gw.now() >= deadline) return { kind: 'unavailable', detail: 'another instance holds the refresh lock for too long' };
        await sleep(WAIT_POLL_MS);
      }
    } catch (error) {
      // the coordination store is down: not refreshing is safe until the tokens expire; spending the token blind is not
      return { kind: 'unavailable', detail: isGatehouseError(error) ? (error.detail ?? error.code) : (error as Error).message };
    }
  }

  private async recall(realm: RealmRuntime, refreshToken: string, key: string): Promise<Outcome | null> {
    const sealed = (await this.local.recall(key)) ?? (await this.coordination.recall(key));
    if (sealed === null) return null;
    return open<Outcome>(sealed, deriveSealKeys([refreshToken], `refresh-result:${realm.name}`));
  }

  private async publish(realm: RealmRuntime, refreshToken: string, key: string, outcome: Outcome): Promise<void> {
    const sealed = seal(outcome, deriveSealKeys([refreshToken], `refresh-result:${realm.name}`));
    await this.local.remember(key, sealed, REFRESH_RESULT_TTL_MS);
    try {
      await this.coordination.remember(key, sealed, REFRESH_RESULT_TTL_MS);
    } catch (error) {
      this.gw.log.warn({ realm: realm.name, code: isGatehouseError(error) ? error.code : 'GH_INTERNAL' }, 'refresh outcome not shared with other instances');
    }
  }

  /** The token request itself (OAuth 2.0 6) and the check of what came back. */
  private async redeem(realm: RealmRuntime, session: SessionData, refreshToken: string): Promise<Outcome> {
    let tokens: TokenSet;
    let metadata;
    try {
      metadata = await realm.provider.ensureReady();
      tokens = await refreshTokens(metadata.token_endpoint, realm.credentials, refreshToken, TOKEN_REQUEST_TIMEOUT_MS);
    } catch (error) {
      // RFC 6749 5.2: invalid_grant = the refresh token is invalid, expired, revoked or already used
      if (error instanceof TokenEndpointError && error.oauthError === 'invalid_grant') return { kind: 'ended', reason: 'invalid_grant' };
      return { kind: 'unavailable', detail: isGatehouseError(error) ? (error.detail ?? error.code) : (error as Error).message };
    }
    const obtainedAt = this.gw.now();
    let idTokenExpiresAt: number | undefined;
    if (tokens.idToken) {
      try {
        const claims = await verifyRefreshedIdToken(tokens.idToken, {
          getKey: realm.provider.keys,
          issuer: metadata.issuer,
          clientId: realm.credentials.clientId,
          algorithms: metadata.id_token_signing_alg_values_supported,
          now: obtainedAt,
          clockToleranceSec: this.gw.runtime.clockToleranceSec,
          sub: session.sub,
          originalNonce: originalNonce(session.idToken),
        });
        idTokenExpiresAt = typeof claims.exp === 'number' ? claims.exp * 1000 : undefined;
      } catch (error) {
        const code = isGatehouseError(error) ? error.code : 'GH_ID_TOKEN_MALFORMED';
        this.gw.metrics.tokenFailure(realm.name, code);
        return { kind: 'ended', reason: code };
      }
    }
    const tokensExpireAt = tokens.expiresIn !== undefined ? obtainedAt + tokens.expiresIn * 1000 : (idTokenExpiresAt ?? obtainedAt + DEFAULT_TOKEN_LIFE_MS);
    // a provider that does not rotate sends no new refresh token: the old one stays valid
    return { kind: 'refreshed', idToken: tokens.idToken ?? session.idToken, refreshToken: tokens.refreshToken ?? refreshToken, tokensExpireAt, tokensObtainedAt: obtainedAt };
  }

  /** The provider no longer knows this session: end it on every instance. */
  private async endSession(realm: RealmRuntime, session: SessionData, cookieValue: string, reason: string): Promise<void> {
    const gw = this.gw;
    const now = gw.now();
    gw.log.info({ audit: 'session-ended', realm: realm.name, sub: session.sub, session: session.id, reason }, 'session ended: the provider refused to renew it');
    await gw.revocations.revoke({ kind: 'session', realm: realm.name, value: session.id, at: now, until: session.createdAt + gw.runtime.times.lifetimeMs }).catch(() => {});
    await gw.store.destroy(realm, cookieValue, session).catch(() => {});
    gw.cache.delete(cookieValue);
  }
}

export function createSessionRefresher(gw: RefresherContext, coordination: RefreshCoordination | undefined): TokenRefresher {
  return new TokenRefresher(gw, coordination ?? new MemoryRefreshCoordination(gw.now));
}
