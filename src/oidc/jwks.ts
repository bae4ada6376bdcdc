/**
 * A provider's signing keys (its JWKS), and when to fetch them again. All of
 * the JWKS policy lives here, on the clock the gateway hands in:
 *
 * - Single flight: one fetch at a time; every lookup that needs it waits for it.
 * - Stale-if-error: keys we have keep verifying while the JWKS cannot be
 *   fetched; a set older than JWKS_MAX_AGE_MS is renewed in the background.
 * - Backoff: after a failed fetch, none before retryAt (doubling up to 60 s).
 * - An unknown `kid` refetches according to who could have sent the token:
 *   - from the token endpoint (sign-in, refresh: the provider answered our
 *     authenticated request), at once — a key rotation must not fail sign-ins —
 *     but at most once per TOKEN_ENDPOINT_REFETCH_MS, so a provider that signs
 *     with a key it does not publish cannot make us fetch on every sign-in;
 *   - from anyone (back-channel logout tokens: anyone can POST one), at most
 *     once per ANYONE_REFETCH_COOLDOWN_MS after the last fetch. Those fetches
 *     never count against the token-endpoint budget, so a stream of bogus
 *     logout tokens cannot hold back the key a sign-in needs.
 * - A lookup that still finds no key says why: GH_ID_TOKEN_KID_UNKNOWN when the
 *   last fetch succeeded (the provider does not publish that key), and
 *   GH_JWKS_UNAVAILABLE when it failed (ask again later: a refresh keeps the
 *   session, a sign-in answers 503).
 */
import { createLocalJWKSet, errors as joseErrors, type JSONWebKeySet, type JWTVerifyGetKey } from 'jose';
import { GatehouseError } from '../errors.js';
import { jsonObject, providerRequest } from './http.js';

/** Who could have sent the token whose key is looked up. */
export type KeySource = 'token-endpoint' | 'anyone';

export const TOKEN_ENDPOINT_REFETCH_MS = 5_000;
export const ANYONE_REFETCH_COOLDOWN_MS = 30_000;
export const JWKS_MAX_AGE_MS = 10 * 60_000;
const MAX_RETRY_DELAY_MS = 60_000;

export interface JwksOptions {
  url: string;
  timeoutMs: number;
  now: () => number;
  /** first retry delay after a failed fetch; doubles up to 60 s */
  retryBaseMs: number;
  onFetch?: (ok: boolean, detail?: string) => void;
}

export class ProviderKeys {
  private set: { jwks: JSONWebKeySet; getKey: JWTVerifyGetKey } | null = null;
  private fetching: Promise<boolean> | null = null;
  /** start of the last fetch (any outcome), its success, and the last success */
  private attemptedAt = Number.NEGATIVE_INFINITY;
  private lastFetchOk = false;
  private fetchedAt = Number.NEGATIVE_INFINITY;
  /** the last successful fetch an unknown kid from the token endpoint asked for */
  private tokenEndpointFetchedAt = Number.NEGATIVE_INFINITY;
  private retryAt = Number.NEGATIVE_INFINITY;
  private retryDelayMs: number;

  constructor(private readonly options: JwksOptions) {
    this.retryDelayMs = options.retryBaseMs;
  }

  get loaded(): boolean {
    return this.set !== null;
  }

  /** The first fetch (discovery waits for it); throws when it fails. */
  async load(): Promise<void> {
    if (!(await this.fetch())) throw new Error(this.lastError ?? 'JWKS fetch failed');
  }

  /** A key resolver for jose, for tokens from `source`. */
  resolver(source: KeySource): JWTVerifyGetKey {
    return source === 'token-endpoint' ? this.fromTokenEndpoint : this.fromAnyone;
  }

  private readonly fromTokenEndpoint: JWTVerifyGetKey = (header, token) => this.resolve('token-endpoint', header, token);
  private readonly fromAnyone: JWTVerifyGetKey = (header, token) => this.resolve('anyone', header, token);

  private async resolve(source: KeySource, ...args: Parameters<JWTVerifyGetKey>): Promise<Awaited<ReturnType<JWTVerifyGetKey>>> {
    const now = this.options.now();
    if (now - this.fetchedAt > JWKS_MAX_AGE_MS) void this.refresh();
    if (this.set === null) throw new GatehouseError('GH_JWKS_UNAVAILABLE', 'no JWKS loaded yet');
    try {
      return await this.set.getKey(...args);
    } catch (error) {
      if (!(error instanceof joseErrors.JWKSNoMatchingKey)) throw error;
      if (await this.refetchFor(source)) return this.set.getKey(...args);
      if (!this.lastFetchOk)
        throw new GatehouseError('GH_JWKS_UNAVAILABLE', `the JWKS cannot be fetched (${this.lastError ?? 'backing off'}); the token's key may be new`);
      throw error; // the keys are as fresh as this source may ask for: the provider does not publish that key
    }
  }

  /** Fetch again for an unknown kid if `source` may ask for it now; true if new keys came. */
  private refetchFor(source: KeySource): Promise<boolean> {
    if (this.fetching) return this.fetching;
    const now = this.options.now();
    if (now < this.retryAt) return Promise.resolve(false);
    if (source === 'anyone') {
      if (now - this.attemptedAt < ANYONE_REFETCH_COOLDOWN_MS) return Promise.resolve(false);
      return this.fetch();
    }
    if (now - this.tokenEndpointFetchedAt < TOKEN_ENDPOINT_REFETCH_MS) return Promise.resolve(false);
    return this.fetch().then((ok) => {
      if (ok) this.tokenEndpointFetchedAt = now;
      return ok;
    });
  }

  /** Renew the keys now unless backing off (stale set, an operator's reload, tests); never throws. */
  refresh(): Promise<boolean> {
    if (this.fetching) return this.fetching;
    if (this.options.now() < this.retryAt) return Promise.resolve(false);
    return this.fetch();
  }

  private lastError: string | null = null;

  private fetch(): Promise<boolean> {
    this.attemptedAt = this.options.now();
    this.fetching = this.download().then(
      (jwks) => {
        this.set = { jwks, getKey: createLocalJWKSet(jwks) };
        this.fetchedAt = this.options.now();
        this.lastFetchOk = true;
        this.lastError = null;
        this.retryAt = Number.NEGATIVE_INFINITY;
        this.retryDelayMs = this.options.retryBaseMs;
        this.options.onFetch?.(true);
        return true;
      },
      (cause: unknown) => {
        this.lastFetchOk = false;
        this.lastError = (cause as Error).message;
        this.retryAt = this.options.now() + this.retryDelayMs;
        this.options.onFetch?.(false, `${this.lastError}; next attempt in ${Math.round(this.retryDelayMs / 1000)} s at the earliest`);
        this.retryDelayMs = Math.min(this.retryDelayMs * 2, MAX_RETRY_DELAY_MS);
        return false;
      },
    );
    void this.fetching.finally(() => {
      this.fetching = null;
    });
    return this.fetching;
  }

  private async download(): Promise<JSONWebKeySet> {
    const response = await providerRequest(this.options.url, {
      timeoutMs: this.options.timeoutMs,
      headers: { accept: 'application/jwk-set+json, application/json' },
      step: 'oidc.jwks',
    });
    if (response.status !== 200) throw new Error(`${this.options.url} answered HTTP ${response.status}`);
    const body = jsonObject(response);
    // RFC 7517 5: a JSON object with a "keys" array of JWK objects
    if (!body || !Array.isArray(body.keys) || !body.keys.every((k: unknown) => k !== null && typeof k === 'object' && !Array.isArray(k))) {
      throw new Error(`${this.options.url} is not a JWK Set`);
    }
    return body as unknown as JSONWebKeySet;
  }
}
