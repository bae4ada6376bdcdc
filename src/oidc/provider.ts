/**
 * One OpenID Provider as a realm sees it: the discovery document (whose issuer
 * must equal the configured one exactly), its signing keys (oidc/jwks.ts: when
 * an unknown kid refetches, single flight, stale-if-error, backoff), and the
 * signature algorithms we accept from it. Discovery that fails is retried in the
 * background with backoff; until it succeeds, sign-ins for the realm answer 503.
 * Time comes from the caller's clock (the gateway's `now`).
 */
import type { JWTVerifyGetKey } from 'jose';
import { GatehouseError } from '../errors.js';
import { jsonObject, providerRequest, type ProviderResponse } from './http.js';
import { ProviderKeys, type KeySource } from './jwks.js';

export interface ProviderMetadata {
  issuer: string;
  authorization_endpoint: string;
  token_endpoint: string;
  jwks_uri: string;
  userinfo_endpoint?: string | undefined;
  end_session_endpoint?: string | undefined;
  id_token_signing_alg_values_supported: string[];
  authorization_response_iss_parameter_supported: boolean;
  backchannel_logout_supported: boolean;
  /** OIDC Discovery 3 (optional): which prompt values the provider understands */
  prompt_values_supported?: string[] | undefined;
}

export interface ProviderClientOptions {
  issuer: string;
  /** the gateway's clock (ms since epoch): every time decision here is taken on it */
  now: () => number;
  /** for calls to the provider */
  timeoutMs?: number;
  /** first retry delay after a failed discovery or JWKS fetch; doubles up to 60 s */
  retryBaseMs?: number;
  onEvent?: (event: ProviderEvent) => void;
}

export type ProviderEvent =
  | { type: 'discovery'; ok: true }
  | { type: 'discovery'; ok: false; error: GatehouseError }
  | { type: 'jwks'; ok: boolean; detail?: string };

/**
 * Asymmetric algorithms only. HMAC ID tokens would be keyed with the client
 * secret (OIDC Core 10.1); we do not accept them, so a token "signed" with a
 * public key as an HMAC secret can never verify.
 */
export const ASYMMETRIC_ALGS = new Set(['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519']);

function isHttpUrl(value: unknown): value is string {
  if (typeof value !== 'string') return false;
  try {
    const url = new URL(value);
    return url.protocol === 'https:' || url.protocol === 'http:';
  } catch {
    return false;
  }
}

export function discoveryUrl(issuer: string): string {
  // OIDC Discovery 4: remove a terminating "/" before appending the well-known path
  return `${issuer.replace(/\/$/, '')}/.well-known/openid-configuration`;
}

/** Validate a discovery document against the configured issuer. */
export function parseDiscovery(doc: Record<string, unknown> | null, issuer: string): ProviderMetadata {
  if (!doc) throw new GatehouseError('GH_DISCOVERY_FAILED', 'discovery document is not a JSON object');
  // OIDC Discovery 4.3: the issuer value returned MUST be identical to the one used
  if (doc.issuer !== issuer) {
    throw new GatehouseError('GH_DISCOVERY_ISSUER_MISMATCH', `configured issuer "${issuer}" but discovery says "${String(doc.issuer)}"`);
  }
  for (const key of ['authorization_endpoint', 'token_endpoint', 'jwks_uri'] as const) {
    if (!isHttpUrl(doc[key])) throw new GatehouseError('GH_DISCOVERY_FAILED', `discovery document lacks a valid ${key}`);
  }
  const advertised = Array.isArray(doc.id_token_signing_alg_values_supported)
    ? doc.id_token_signing_alg_values_supported.filter((a): a is string => typeof a === 'string')
    : ['RS256']; // OIDC Discovery 3: RS256 MUST be supported; an absent list means RS256
  const algorithms = advertised.filter((a) => ASYMMETRIC_ALGS.has(a));
  if (algorithms.length === 0) {
    throw new GatehouseError('GH_DISCOVERY_FAILED', `provider advertises no asymmetric ID token algorithm (got ${advertised.join(', ') || 'none'})`);
  }
  return {
    issuer,
    authorization_endpoint: doc.authorization_endpoint as string,
    token_endpoint: doc.token_endpoint as string,
    jwks_uri: doc.jwks_uri as string,
    userinfo_endpoint: isHttpUrl(doc.userinfo_endpoint) ? doc.userinfo_endpoint : undefined,
    end_session_endpoint: isHttpUrl(doc.end_session_endpoint) ? doc.end_session_endpoint : undefined,
    id_token_signing_alg_values_supported: algorithms,
    authorization_response_iss_parameter_supported: doc.authorization_response_iss_parameter_supported === true,
    backchannel_logout_supported: doc.backchannel_logout_supported === true,
    ...(Array.isArray(doc.prompt_values_supported)
      ? { prompt_values_supported: doc.prompt_values_supported.filter((p): p is string => typeof p === 'string') }
      : {}),
  };
}

/**
 * A sign-in start sends a person to the provider only if the provider answered a look less than this
 * long ago; older, the sign-in waits for a new look (one at a time, shared by every sign-in waiting).
 * Short, so a provider that went down is noticed within a second; long enough that under load the
 * provider sees about one look a second per process, not one per navigation.
 */
export const HEALTH_MAX_AGE_MS = 1000;
/** While the provider is down, requests never look more often than this (the retry timer backs off further). */
export const MIN_PROBE_INTERVAL_MS = 1000;
const MAX_RETRY_DELAY_MS = 60_000;

export class ProviderClient {
  readonly issuer: string;
  private loaded: { metadata: ProviderMetadata; keys: ProviderKeys } | null = null;
  private inflight: Promise<ProviderMetadata> | null = null;
  private lastError: GatehouseError | null = null;
  private retryTimer: NodeJS.Timeout | null = null;
  private retryDelayMs: number;
  private closed = false;
  private readonly timeoutMs: number;
  /** after discovery: did the last look at the provider succeed, and when was it (ms) */
  private healthy = false;
  private checkedAt = 0;
  private probing: Promise<boolean> | null = null;
  private readonly now: () => number;

  constructor(private readonly options: ProviderClientOptions) {
    this.issuer = options.issuer;
    this.now = options.now;
    this.timeoutMs = options.timeoutMs ?? 5000;
    this.retryDelayMs = options.retryBaseMs ?? 1000;
  }

  /** Start discovery now; failures are retried in the background. Never rejects. */
  start(): void {
    void this.ensureReady().catch(() => {});
  }

  get metadata(): ProviderMetadata | null {
    return this.loaded?.metadata ?? null;
  }

  get error(): GatehouseError | null {
    return this.lastError;
  }

  /**
   * Key resolver for jose, for a token from `source`: from the token endpoint
   * (an ID token of a sign-in or refresh), or from anyone (a back-channel
   * logout token). An unknown kid refetches the JWKS as oidc/jwks.ts decides
   * for that source. Only valid once ready.
   */
  keys(source: KeySource): JWTVerifyGetKey {
    if (!this.loaded) throw this.lastError ?? new GatehouseError('GH_DISCOVERY_FAILED', 'provider not discovered yet');
    return this.loaded.keys.resolver(source);
  }

  /** True once discovery succeeded, the JWKS has been fetched, and the provider answered the last time we looked. */
  isReady(): boolean {
    return this.loaded !== null && this.healthy && this.loaded.keys.loaded;
  }

  /** Readiness, looking at the provider again first when the last look is older than maxAgeMs. */
  async checkReady(maxAgeMs = MIN_PROBE_INTERVAL_MS): Promise<boolean> {
    if (this.loaded && this.now() - this.checkedAt >= maxAgeMs) await this.probe();
    return this.isReady();
  }

  /** The metadata when ensureReady() would hand it over without a look at the provider first; otherwise null. */
  readyMetadata(): ProviderMetadata | null {
    if (this.loaded === null || !this.healthy || this.now() - this.checkedAt >= HEALTH_MAX_AGE_MS) return null;
    return this.loaded.metadata;
  }

  /**
   * The metadata, discovering now (single-flight) if not loaded yet. Once loaded,
   * a look older than HEALTH_MAX_AGE_MS is renewed first (single-flight: every
   * caller waiting shares it), so a sign-in is not sent to a provider that went
   * down: it gets GH_DISCOVERY_FAILED (a 503 page) instead.
   */
  async ensureReady(): Promise<ProviderMetadata> {
    if (this.loaded) {
      const age = this.now() - this.checkedAt;
      if (this.healthy ? age >= HEALTH_MAX_AGE_MS : age >= MIN_PROBE_INTERVAL_MS) await this.probe();
      if (!this.healthy) throw this.lastError ?? new GatehouseError('GH_DISCOVERY_FAILED', 'provider unreachable');
      return this.loaded.metadata;
    }
    if (!this.inflight) {
      this.inflight = this.discover().finally(() => {
        this.inflight = null;
      });
    }
    return this.inflight;
  }

  private async discover(): Promise<ProviderMetadata> {
    try {
      let response: ProviderResponse;
      try {
        response = await providerRequest(discoveryUrl(this.issuer), {
          timeoutMs: this.timeoutMs,
          headers: { accept: 'application/json' },
          step: 'oidc.discovery',
        });
      } catch (cause) {
        throw new GatehouseError('GH_DISCOVERY_FAILED', `cannot reach ${discoveryUrl(this.issuer)}: ${(cause as Error).message}`, { cause });
      }
      if (response.status !== 200) {
        throw new GatehouseError('GH_DISCOVERY_FAILED', `${discoveryUrl(this.issuer)} answered HTTP ${response.status}`);
      }
      const metadata = parseDiscovery(jsonObject(response), this.issuer);
      const keys = new ProviderKeys({
        url: metadata.jwks_uri,
        timeoutMs: this.timeoutMs,
        now: this.now,
        retryBaseMs: this.options.retryBaseMs ?? 1000,
        onFetch: (ok, detail) => this.options.onEvent?.({ type: 'jwks', ok, ...(detail !== undefined ? { detail } : {}) }),
      });
      try {
        await keys.load();
      } catch (cause) {
        throw new GatehouseError('GH_DISCOVERY_FAILED', `cannot load the JWKS at ${metadata.jwks_uri}: ${(cause as Error).message}`, { cause });
      }
      this.loaded = { metadata, keys };
      this.healthy = true;
      this.checkedAt = this.now();
      this.lastError = null;
      this.retryDelayMs = this.options.retryBaseMs ?? 1000;
      this.options.onEvent?.({ type: 'discovery', ok: true });
      return metadata;
    } catch (error) {
      const gh = error instanceof GatehouseError ? error : new GatehouseError('GH_DISCOVERY_FAILED', (error as Error).message, { cause: error });
      this.lastError = gh;
      this.options.onEvent?.({ type: 'discovery', ok: false, error: gh });
      this.scheduleRetry();
      throw gh;
    }
  }

  /**
   * Look at a discovered provider again (its discovery document answers 200),
   * single-flight. A failure marks it down and retries in the background with
   * backoff, so readiness and sign-ins recover by themselves.
   */
  private probe(): Promise<boolean> {
    if (this.probing) return this.probing;
    const url = discoveryUrl(this.issuer);
    this.probing = providerRequest(url, { timeoutMs: this.timeoutMs, headers: { accept: 'application/json' }, step: 'oidc.discovery' })
      .then(
        (response) => {
          if (response.status !== 200) throw new Error(`${url} answered HTTP ${response.status}`);
        },
        (cause: unknown) => {
          throw new Error(`cannot reach ${url}: ${(cause as Error).message}`);
        },
      )
      .then(
        () => {
          const recovered = !this.healthy;
          this.healthy = true;
          this.lastError = null;
          this.retryDelayMs = this.options.retryBaseMs ?? 1000;
          if (recovered) this.options.onEvent?.({ type: 'discovery', ok: true });
          return true;
        },
        (cause: unknown) => {
          this.healthy = false;
          this.lastError = new GatehouseError('GH_DISCOVERY_FAILED', (cause as Error).message, { cause });
          this.options.onEvent?.({ type: 'discovery', ok: false, error: this.lastError });
          this.scheduleRetry();
          return false;
        },
      )
      .finally(() => {
        // when the answer (or the failure) came: the trust runs from here
        this.checkedAt = this.now();
        this.probing = null;
      });
    return this.probing;
  }

  private scheduleRetry(): void {
    if (this.closed || this.retryTimer) return;
    const delay = this.retryDelayMs;
    this.retryDelayMs = Math.min(this.retryDelayMs * 2, MAX_RETRY_DELAY_MS);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      if (this.loaded) void this.probe();
      else this.start();
    }, delay);
    this.retryTimer.unref();
  }

  /** Reload the JWKS now (key rotation), within the same backoff as key lookups; never throws. */
  refreshKeys(): Promise<boolean> {
    return this.loaded ? this.loaded.keys.refresh() : Promise.resolve(false);
  }

  close(): void {
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
  }
}
