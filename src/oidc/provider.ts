/**
 * One OpenID Provider as a realm sees it: the discovery document (whose issuer
 * must equal the configured one exactly), the JWKS through jose's remote key set
 * (cached, refetched on an unknown kid after a cooldown, single-flight), and the
 * signature algorithms we accept from it. Discovery that fails is retried in the
 * background with backoff; until it succeeds, sign-ins for the realm answer 503.
 */
import { createRemoteJWKSet, type JWTVerifyGetKey } from 'jose';
import { GatehouseError } from '../errors.js';
import { jsonObject, providerRequest } from './http.js';

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
}

export interface ProviderClientOptions {
  issuer: string;
  /** for calls to the provider */
  timeoutMs?: number;
  /** minimum time between JWKS refetches on an unknown kid */
  jwksCooldownMs?: number;
  jwksCacheMaxAgeMs?: number;
  /** first retry delay after a failed discovery; doubles up to 60 s */
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
  };
}

export class ProviderClient {
  readonly issuer: string;
  private loaded: { metadata: ProviderMetadata; jwks: ReturnType<typeof createRemoteJWKSet> } | null = null;
  private inflight: Promise<ProviderMetadata> | null = null;
  private lastError: GatehouseError | null = null;
  private retryTimer: NodeJS.Timeout | null = null;
  private retryDelayMs: number;
  private closed = false;
  private readonly timeoutMs: number;

  constructor(private readonly options: ProviderClientOptions) {
    this.issuer = options.issuer;
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

  /** Key resolver for jose; only valid once ready. */
  get keys(): JWTVerifyGetKey {
    if (!this.loaded) throw this.lastError ?? new GatehouseError('GH_DISCOVERY_FAILED', 'provider not discovered yet');
    return this.loaded.jwks;
  }

  /** True once discovery succeeded and the JWKS has been fetched at least once. */
  isReady(): boolean {
    return this.loaded !== null && this.loaded.jwks.jwks() !== undefined;
  }

  /** The metadata, discovering now (single-flight) if not loaded yet. Throws GH_DISCOVERY_*. */
  ensureReady(): Promise<ProviderMetadata> {
    if (this.loaded) return Promise.resolve(this.loaded.metadata);
    if (!this.inflight) {
      this.inflight = this.discover().finally(() => {
        this.inflight = null;
      });
    }
    return this.inflight;
  }

  private async discover(): Promise<ProviderMetadata> {
    try {
      let response;
      try {
        response = await providerRequest(discoveryUrl(this.issuer), { timeoutMs: this.timeoutMs, headers: { accept: 'application/json' } });
      } catch (cause) {
        throw new GatehouseError('GH_DISCOVERY_FAILED', `cannot reach ${discoveryUrl(this.issuer)}: ${(cause as Error).message}`, { cause });
      }
      if (response.status !== 200) {
        throw new GatehouseError('GH_DISCOVERY_FAILED', `${discoveryUrl(this.issuer)} answered HTTP ${response.status}`);
      }
      const metadata = parseDiscovery(jsonObject(response), this.issuer);
      const jwks = createRemoteJWKSet(new URL(metadata.jwks_uri), {
        timeoutDuration: this.timeoutMs,
        cooldownDuration: this.options.jwksCooldownMs ?? 30_000,
        cacheMaxAge: this.options.jwksCacheMaxAgeMs ?? 10 * 60_000,
      });
      try {
        await jwks.reload();
        this.options.onEvent?.({ type: 'jwks', ok: true });
      } catch (cause) {
        this.options.onEvent?.({ type: 'jwks', ok: false, detail: (cause as Error).message });
        throw new GatehouseError('GH_DISCOVERY_FAILED', `cannot load the JWKS at ${metadata.jwks_uri}: ${(cause as Error).message}`, { cause });
      }
      this.loaded = { metadata, jwks };
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

  private scheduleRetry(): void {
    if (this.closed || this.retryTimer) return;
    const delay = this.retryDelayMs;
    this.retryDelayMs = Math.min(this.retryDelayMs * 2, 60_000);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.start();
    }, delay);
    this.retryTimer.unref();
  }

  /** Reload the JWKS now (readiness probe, key rotation); never throws. */
  async refreshKeys(): Promise<boolean> {
    if (!this.loaded) return false;
    try {
      await this.loaded.jwks.reload();
      this.options.onEvent?.({ type: 'jwks', ok: true });
      return true;
    } catch (cause) {
      this.options.onEvent?.({ type: 'jwks', ok: false, detail: (cause as Error).message });
      return false;
    }
  }

  close(): void {
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
  }
}
