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
 * - Authorization follows the provider: the refreshed ID token's claims (with
 *   userinfo's when provider.userinfo is on, as at sign-in) replace the
 *   session's identity and are judged by the allow rules again; a refusal ends
 *   the session. A refresh is also due session.reauthorize_every after the
 *   provider last vouched for the claims, however long the tokens live. When
 *   the new claims cannot be checked (userinfo, or the key that signed the
 *   token, cannot be fetched: GH_JWKS_UNAVAILABLE) the new tokens are kept, the old claims stand
 *   until the old tokens expire, and the check is tried again.
 */
import { createHash, randomBytes } from 'node:crypto';
import { decodeJwt } from 'jose';
import type { RealmRuntime } from '../runtime.js';
import { GatehouseError, isGatehouseError } from '../errors.js';
import { TOKEN_REQUEST_TIMEOUT_MS, fetchUserinfo, refreshTokens, TokenEndpointError, type TokenSet } from '../oidc/token.js';
import { verifyRefreshedIdToken } from '../oidc/id-token.js';
import type { ProviderMetadata } from '../oidc/provider.js';
import { checkAllowRules } from '../allow/rules.js';
import { identityFromClaims, type SessionIdentity } from '../identity/from-claims.js';
import { deriveSealKeys, open, seal } from './codec.js';
import type { SessionData } from './session.js';
import type { SessionStore } from './store.js';
import type { RevocationList } from './revocation.js';
import type { Metrics } from '../observe/metrics.js';
import type { Logger } from '../observe/log.js';
import { traced } from '../observe/tracing.js';

const REFRESH_AHEAD_MAX_MS = 60_000;
/** never refresh tokens younger than this, whatever the provider says their life is */
const MIN_TOKEN_AGE_MS = 1000;
/** how long the outcome of a refresh stays available to holders of the old refresh token */
export const REFRESH_RESULT_TTL_MS = 2 * 60_000;
const LOCK_TTL_MS = 15_000;
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

/** What a refresh says about the person, beside the new tokens. */
type Reauthorization =
  /** the provider's new claims, allowed by the realm's rules: they replace the session's identity */
  | { kind: 'claims'; identity: SessionIdentity; at: number }
  /** no ID token and no userinfo: the provider renewed the grant, and that is all it tells */
  | { kind: 'grant-only'; at: number }
  /** the new claims could not be checked (keys or userinfo unavailable): the old ones stand, try again later */
  | { kind: 'not-checked'; detail: string };

type Outcome =
  | {
      kind: 'refreshed';
      idToken?: string | undefined;
      refreshToken: string;
      tokensExpireAt: number;
      tokensObtainedAt: number;
      reauthorization: Reauthorization;
    }
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
 * When the session must go to the provider: its tokens are due, or its
 * authorization is older than reauthorizeEveryMs (ms since epoch).
 */
/** A session whose tokens can be refreshed: a refresh token, and when the tokens expire. */
type Refreshable = SessionData & { refreshToken: string; tokensExpireAt: number };

/** Is a refresh (or re-authorization) of this session's tokens due now? Nothing else makes refreshIfDue act. */
export function refreshDue(
  runtime: { readonly refresh: boolean; readonly reauthorizeEveryMs: number },
  session: SessionData,
  now: number,
): session is Refreshable {
  return (
    runtime.refresh && session.refreshToken !== undefined && session.tokensExpireAt !== undefined && now >= renewalDueAt(session, runtime.reauthorizeEveryMs)
  );
}

export function renewalDueAt(session: SessionData, reauthorizeEveryMs: number): number {
  // claims not checked since the last refresh: try again (refreshIfDue pauses between attempts)
  if (session.claimsStandUntil !== undefined) return 0;
  return Math.min(refreshDueAt(session), (session.authorizedAt ?? session.createdAt) + reauthorizeEveryMs);
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
  return createHash('sha256')
    .update(`refresh\u0000${realm}\u0000${obtainedAt}\u0000${session.refreshToken ?? ''}`)
    .digest('base64url');
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
  readonly runtime: {
    readonly refresh: boolean;
    readonly reauthorizeEveryMs: number;
    readonly clockToleranceSec: number;
    readonly times: { readonly lifetimeMs: number };
  };
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
    const now = this.gw.now();
    if (!refreshDue(this.gw.runtime, session, now)) return session;
    const refreshToken = session.refreshToken;

    const key = refreshTokenKey(realm.name, session);
    let outcome: Outcome;
    const retryAt = this.failedUntil.get(key);
    if (retryAt !== undefined && now < retryAt) {
      outcome = { kind: 'unavailable', detail: 'a recent refresh attempt failed; waiting before the next one' };
    } else {
      let flight = this.flights.get(key);
      if (!flight) {
        // one span per flight (session.refresh, its outcome): the requests sharing it are in its first request's trace
        flight = traced(
          'session.refresh',
          () => this.coordinate(realm, session, refreshToken, key),
          (outcome) => outcome.kind,
        ).finally(() => this.flights.delete(key));
        this.flights.set(key, flight);
      }
      outcome = await flight;
    }

    switch (outcome.kind) {
      case 'refreshed':
        this.failedUntil.delete(key);
        return this.renewed(realm, session, outcome, now);
      case 'ended':
        await this.endSession(realm, session, cookieValue, outcome.reason);
        return null;
      case 'unavailable': {
        const waiting = this.failedUntil.get(key); // requests that shared one failed flight record it once
        if (waiting === undefined || now >= waiting) {
          if (this.failedUntil.size >= MAX_LOCAL_ENTRIES) this.failedUntil.clear();
          const life = session.tokensExpireAt - (session.tokensObtainedAt ?? session.createdAt);
          this.failedUntil.set(key, now + Math.min(RETRY_AFTER_FAILURE_MAX_MS, Math.max(RETRY_AFTER_FAILURE_MIN_MS, life / 4)));
          this.gw.log.warn(
            { realm: realm.name, session: session.id, code: 'GH_REFRESH_UNAVAILABLE', detail: outcome.detail },
            'token refresh failed; the session continues until its tokens expire',
          );
        }
        // an unreachable provider signs no one out before the tokens (or the claims not yet checked) really expire
        if (this.gw.now() < Math.min(session.tokensExpireAt, session.claimsStandUntil ?? Number.POSITIVE_INFINITY)) return session;
        throw new GatehouseError('GH_REFRESH_UNAVAILABLE', outcome.detail);
      }
    }
  }

  /** The session with a refresh's tokens, and with its new identity when the provider's claims were checked. */
  private renewed(realm: RealmRuntime, session: SessionData, outcome: Extract<Outcome, { kind: 'refreshed' }>, now: number): SessionData {
    const tokens = { refreshToken: outcome.refreshToken, tokensObtainedAt: outcome.tokensObtainedAt };
    const reauthorization = outcome.reauthorization;
    switch (reauthorization.kind) {
      case 'claims': {
        const { identity } = reauthorization;
        // a refreshed ID token need not carry sid (OIDC Core 12.2): the provider session stays the sign-in's
        return {
          ...session,
          ...tokens,
          ...identity,
          sid: identity.sid ?? session.sid,
          idToken: outcome.idToken,
          tokensExpireAt: outcome.tokensExpireAt,
          authorizedAt: reauthorization.at,
          claimsStandUntil: undefined,
        };
      }
      case 'grant-only':
        return {
          ...session,
          ...tokens,
          idToken: outcome.idToken,
          tokensExpireAt: outcome.tokensExpireAt,
          authorizedAt: reauthorization.at,
          claimsStandUntil: undefined,
        };
      case 'not-checked': {
        // The new tokens are kept (a rotated refresh token is spent), but not the claims nobody checked:
        // the old claims carry the session no longer than the tokens they came with (as when the provider
        // cannot be reached), and the check is tried again after a pause. authenticate() answers 503
        // once claimsStandUntil has passed, still handing the browser the new tokens.
        const kept: SessionData = {
          ...session,
          ...tokens,
          tokensExpireAt: outcome.tokensExpireAt,
          claimsStandUntil: session.claimsStandUntil ?? session.tokensExpireAt,
        };
        const life = (session.tokensExpireAt ?? now) - (session.tokensObtainedAt ?? session.createdAt);
        if (this.failedUntil.size >= MAX_LOCAL_ENTRIES) this.failedUntil.clear();
        this.failedUntil.set(refreshTokenKey(realm.name, kept), now + Math.min(RETRY_AFTER_FAILURE_MAX_MS, Math.max(RETRY_AFTER_FAILURE_MIN_MS, life / 4)));
        this.gw.log.warn(
          { realm: realm.name, session: session.id, code: 'GH_REFRESH_UNAVAILABLE', detail: reauthorization.detail },
          'tokens refreshed but the new claims could not be checked; the old ones stand until the old tokens expire',
        );
        return kept;
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
    let metadata: ProviderMetadata;
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
    let claims: Record<string, unknown> | undefined;
    let keysUnavailable: string | undefined;
    if (tokens.idToken) {
      try {
        claims = await verifyRefreshedIdToken(tokens.idToken, {
          getKey: realm.provider.keys('token-endpoint'),
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
        // the key that signed it cannot be fetched now (oidc/jwks.ts): not a verdict on the person; the
        // tokens are kept (a rotated refresh token is spent) and the token's claims are not used
        if (code === 'GH_JWKS_UNAVAILABLE') keysUnavailable = (error as GatehouseError).detail ?? code;
        else {
          this.gw.metrics.tokenFailure(realm.name, code);
          return { kind: 'ended', reason: code };
        }
      }
    }
    const tokensExpireAt = tokens.expiresIn !== undefined ? obtainedAt + tokens.expiresIn * 1000 : (idTokenExpiresAt ?? obtainedAt + DEFAULT_TOKEN_LIFE_MS);
    const reauthorization: Reauthorization | Extract<Outcome, { kind: 'ended' }> =
      keysUnavailable !== undefined
        ? { kind: 'not-checked', detail: keysUnavailable }
        : await this.reauthorize(realm, session, metadata.userinfo_endpoint, tokens, claims, obtainedAt);
    if (reauthorization.kind === 'ended') return reauthorization;
    // a provider that does not rotate sends no new refresh token: the old one stays valid
    return {
      kind: 'refreshed',
      idToken: tokens.idToken ?? session.idToken,
      refreshToken: tokens.refreshToken ?? refreshToken,
      tokensExpireAt,
      tokensObtainedAt: obtainedAt,
      reauthorization,
    };
  }

  /**
   * The person as the provider sees them now, as at sign-in: the ID token's claims over userinfo's
   * (when provider.userinfo is on), then the allow rules. A refusal ends the session.
   */
  private async reauthorize(
    realm: RealmRuntime,
    session: SessionData,
    userinfoEndpoint: string | undefined,
    tokens: TokenSet,
    idTokenClaims: Record<string, unknown> | undefined,
    at: number,
  ): Promise<Reauthorization | Extract<Outcome, { kind: 'ended' }>> {
    let claims = idTokenClaims;
    if (realm.userinfo && userinfoEndpoint && tokens.accessToken) {
      try {
        claims = { ...(await fetchUserinfo(userinfoEndpoint, tokens.accessToken, session.sub, TOKEN_REQUEST_TIMEOUT_MS)), ...(claims ?? {}) };
      } catch (error) {
        const code = isGatehouseError(error) ? error.code : 'GH_USERINFO_FAILED';
        // OIDC Core 5.3.2: a profile of someone else is a refusal, not an outage
        if (code === 'GH_USERINFO_SUB_MISMATCH') return { kind: 'ended', reason: code };
        return { kind: 'not-checked', detail: isGatehouseError(error) ? (error.detail ?? code) : (error as Error).message };
      }
    }
    if (claims === undefined) return { kind: 'grant-only', at };
    const refusal = checkAllowRules(realm.allow, claims, realm.claimNames.email);
    if (refusal) return { kind: 'ended', reason: refusal };
    return { kind: 'claims', identity: identityFromClaims(claims, realm.claimNames, realm.keptClaims), at };
  }

  /** The provider no longer knows this session: end it on every instance. */
  private async endSession(realm: RealmRuntime, session: SessionData, cookieValue: string, reason: string): Promise<void> {
    const gw = this.gw;
    const now = gw.now();
    const why = reason.startsWith('GH_ALLOW_') ? "the provider's new claims are no longer allowed" : 'the provider refused to renew it';
    gw.log.info({ audit: 'session-ended', realm: realm.name, sub: session.sub, session: session.id, reason }, `session ended: ${why}`);
    await gw.revocations
      .revoke({ kind: 'session', realm: realm.name, value: session.id, at: now, until: session.createdAt + gw.runtime.times.lifetimeMs })
      .catch(() => {});
    await gw.store.destroy(realm, cookieValue, session).catch(() => {});
    gw.cache.delete(cookieValue);
  }
}

export function createSessionRefresher(gw: RefresherContext, coordination: RefreshCoordination | undefined): TokenRefresher {
  return new TokenRefresher(gw, coordination ?? new MemoryRefreshCoordination(gw.now));
}
