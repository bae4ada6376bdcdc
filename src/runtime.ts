/**
 * Everything derived from gateway.yaml, once per load: URLs parsed, durations in
 * milliseconds, keys derived and imported, the realm table and the reserved
 * paths built — then frozen. Request handlers read only this, never raw YAML.
 * A reload builds a new Runtime and swaps it in whole (http/app.ts).
 */
import { BlockList, isIP } from 'node:net';
import { readFileSync } from 'node:fs';
import { clientAssertionKey } from './oidc/client-key.js';
import type { GatewayConfig, RealmConfig } from './config/types.js';
import { durationMs as ms } from './config/duration.js';
import { logoutPathOf, postLogoutLandingOf } from './config/defaults.js';
import { CLOCK_TOLERANCE_SEC } from './oidc/id-token.js';
import { deriveSealKeys, type SealKey } from './session/codec.js';
import { touchIntervalFor, type SessionTimes } from './session/session.js';
import { ProviderClient, type ProviderEvent } from './oidc/provider.js';
import type { ClientCredentials } from './oidc/client-auth.js';
import type { AuthorizationParams } from './oidc/authorize.js';
import { compileAllowRules, claimsUsedBy, type AllowRules } from './allow/rules.js';
import { createAssertionSigner, type AssertionSigner } from './identity/assertion.js';
import { identityHeaderNames, type IdentityHeaderNames } from './identity/headers.js';
import { RealmTable, compilePublicPaths } from './routing/realm.js';
import { buildTheme, type PageTheme } from './edge/pages/layout.js';
import type { TracingSettings } from './observe/tracing.js';

export interface RealmRuntime {
  readonly name: string;
  readonly paths: readonly string[];
  readonly callbackPath: string;
  readonly callbackUrl: string;
  readonly logoutPath: string;
  /** absolute URL the browser lands on after sign-out (post_logout_redirect_uri) */
  readonly postLogoutRedirect: string;
  /** post_logout_redirect not set: the landing shows Gatehouse's "you are signed out" page */
  readonly signedOutPage: boolean;
  readonly login: 'automatic' | 'button';
  readonly buttonText: string;
  readonly provider: ProviderClient;
  readonly credentials: ClientCredentials;
  /** client id, redirect URI, scopes and extra parameters of the authorization request, as one object for its URL cache */
  readonly authorization: AuthorizationParams;
  readonly userinfo: boolean;
  /** session cookie name (chunks add .1, .2, ...) */
  readonly cookieName: string;
  /** login-attempt cookies are named prefix + part of the state */
  readonly attemptCookiePrefix: string;
  readonly sealKeys: readonly SealKey[];
  readonly attemptKeys: readonly SealKey[];
  readonly allow: AllowRules;
  readonly claimNames: { readonly email: string; readonly name: string; readonly groups: string };
  /** claims kept in the session for re-checking allow rules */
  readonly keptClaims: readonly string[];
}

export interface Runtime {
  readonly generation: number;
  readonly file: string;
  readonly config: GatewayConfig;
  readonly publicUrl: URL;
  readonly publicOrigin: string;
  /** public_url is https: plain-http requests are redirected, cookies are Secure and __Host- */
  readonly httpsOnly: boolean;
  readonly cookiePrefix: '__Host-' | '';
  readonly upstream: {
    readonly url: URL;
    readonly origin: string;
    readonly timeoutMs: number;
    readonly websockets: boolean;
    readonly preserveHost: boolean;
    readonly maxConnections: number;
  };
  readonly trustedProxies: BlockList | null;
  readonly times: SessionTimes;
  readonly refresh: boolean;
  /** session.reauthorize_every: a session's claims and allow verdict are renewed at the provider this often (ms) */
  readonly reauthorizeEveryMs: number;
  readonly identity: { readonly prefix: string; readonly names: IdentityHeaderNames; readonly signer: AssertionSigner; readonly ttlMs: number };
  readonly publicPaths: RegExp | null;
  readonly realms: ReadonlyMap<string, RealmRuntime>;
  readonly realmTable: RealmTable<RealmRuntime>;
  /** exact normalized path → reserved handler */
  readonly reserved: ReadonlyMap<string, { kind: 'callback' | 'logout'; realm: RealmRuntime }>;
  readonly allowedRedirectOrigins: ReadonlySet<string>;
  readonly corsOrigins: ReadonlySet<string>;
  readonly hstsHeader: string | null;
  readonly limits: {
    readonly maxHeaderBytes: number;
    readonly maxUrlBytes: number;
    readonly headerTimeoutMs: number;
    /** a forwarded request body: this long, plus 1 s per bodyMinRate bytes received */
    readonly bodyTimeoutMs: number;
    readonly bodyMinRate: number;
    readonly failedCallbacksPerMinute: number;
  };
  readonly adminToken: string | undefined;
  /** one loud line each, printed at start (development-only defaults and the like) */
  readonly warnings: readonly string[];
  readonly clockToleranceSec: number;
  readonly theme: PageTheme;
  /** observe.tracing; null = off (read at start only: a change takes effect on restart) */
  readonly tracing: TracingSettings | null;
}

export interface RuntimeDeps {
  generation: number;
  file: string;
  /** providers survive reloads when their configuration is unchanged (JWKS cache, readiness) */
  providers: Map<string, ProviderClient>;
  /** the previous signer is kept when identity.signing is unchanged (a generated key must not change on reload) */
  previous?: Runtime | undefined;
  /** a PEM the primary process generated, shared with cluster workers */
  generatedSigningKeyPem?: string | undefined;
  onProviderEvent?: (realm: string, event: ProviderEvent) => void;
  /** the gateway's clock: provider clients take every time decision on it */
  now: () => number;
}

/** Where the provider's back-channel logout tokens are posted: this, then the realm's name (flows/backchannel.ts). */
export const BACKCHANNEL_LOGOUT_PATH = '/.gatehouse/backchannel-logout';

/** A realm's own URLs and paths: what the gateway answers, and what `gatehouse check` tells the operator to register at the provider. */
export function realmUrls(
  publicOrigin: string,
  name: string,
  rc: RealmConfig,
): { callbackUrl: string; logoutPath: string; postLogoutRedirect: string; backchannelLogoutUrl: string } {
  return {
    callbackUrl: new URL(rc.callback_path, publicOrigin).href,
    logoutPath: logoutPathOf(rc)!,
    postLogoutRedirect: new URL(postLogoutLandingOf(rc), publicOrigin).href,
    backchannelLogoutUrl: new URL(`${BACKCHANNEL_LOGOUT_PATH}/${encodeURIComponent(name)}`, publicOrigin).href,
  };
}

function providerKey(realm: RealmConfig): string {
  return JSON.stringify([realm.provider.issuer]);
}

function buildTrustedProxies(entries: readonly string[]): BlockList | null {
  if (entries.length === 0) return null;
  const list = new BlockList();
  for (const entry of entries) {
    const [address, bits] = entry.split('/');
    const type = isIP(address ?? '') === 6 ? 'ipv6' : 'ipv4';
    if (bits === undefined) list.addAddress(address!, type);
    else list.addSubnet(address!, Number(bits), type);
  }
  return list;
}

async function clientCredentials(realm: RealmConfig): Promise<ClientCredentials> {
  const p = realm.provider;
  if (p.client_auth !== 'private_key_jwt') return { clientId: p.client_id, method: p.client_auth, clientSecret: p.client_secret };
  // the algorithm comes from the key itself (oidc/client-key.ts)
  const { key, alg } = clientAssertionKey(readFileSync(p.private_key_file!));
  return { clientId: p.client_id, method: 'private_key_jwt', privateKey: { key, alg } };
}

function tracingSettings(config: GatewayConfig): TracingSettings | null {
  const tracing = config.observe.tracing;
  return tracing ? { endpoint: tracing.otlp_endpoint, sampleRatio: tracing.sample_ratio, serviceName: tracing.service_name } : null;
}

export async function buildRuntime(config: GatewayConfig, deps: RuntimeDeps): Promise<Runtime> {
  const warnings: string[] = [];
  const publicUrl = new URL(config.public_url);
  const publicOrigin = publicUrl.origin;
  const httpsOnly = publicUrl.protocol === 'https:';
  const cookiePrefix = httpsOnly ? '__Host-' : '';
  if (!httpsOnly) warnings.push(`public_url ${publicOrigin} is plain http on loopback: cookies are not Secure. Development only.`);
  const secrets = Array.isArray(config.session.secret) ? config.session.secret : [config.session.secret];
  const names = identityHeaderNames(config.identity.header_prefix);
  const upstreamUrl = new URL(config.upstream.url);

  const prev = deps.previous;
  const sameSigning =
    prev &&
    JSON.stringify(prev.config.identity.signing) === JSON.stringify(config.identity.signing) &&
    prev.publicOrigin === publicOrigin &&
    prev.config.upstream.url === config.upstream.url &&
    prev.config.identity.assertion_ttl === config.identity.assertion_ttl;
  const signer = sameSigning
    ? prev.identity.signer
    : await createAssertionSigner({
        alg: config.identity.signing.alg,
        keyFile: config.identity.signing.key_file,
        keyPem: config.identity.signing.key_file ? undefined : deps.generatedSigningKeyPem,
        secret: config.identity.signing.secret,
        issuer: publicOrigin,
        audience: config.upstream.url,
        ttlMs: ms(config.identity.assertion_ttl),
      });
  if (signer.generated || (!config.identity.signing.key_file && config.identity.signing.alg !== 'HS256')) {
    warnings.push('identity.signing.key_file is not set: the assertion key was generated at start and changes on restart. Set key_file in production.');
  }

  const realms = new Map<string, RealmRuntime>();
  const usedProviders = new Set<string>();
  for (const [name, rc] of Object.entries(config.realms)) {
    const key = providerKey(rc);
    usedProviders.add(key);
    let provider = deps.providers.get(key);
    if (!provider) {
      provider = new ProviderClient({
        issuer: rc.provider.issuer,
        now: deps.now,
        onEvent: (event) => deps.onProviderEvent?.(name, event),
      });
      deps.providers.set(key, provider);
      provider.start();
    }
    const { callbackUrl, logoutPath, postLogoutRedirect } = realmUrls(publicOrigin, name, rc);
    const allow = compileAllowRules(rc.allow);
    const credentials = await clientCredentials(rc);
    realms.set(name, {
      name,
      paths: rc.paths,
      callbackPath: rc.callback_path,
      callbackUrl,
      logoutPath,
      postLogoutRedirect,
      signedOutPage: rc.post_logout_redirect === undefined,
      login: rc.login,
      buttonText: rc.button_text,
      provider,
      credentials,
      authorization: { clientId: credentials.clientId, redirectUri: callbackUrl, scopes: rc.provider.scopes, extraParams: rc.provider.extra_auth_params },
      userinfo: rc.provider.userinfo,
      cookieName: `${cookiePrefix}gatehouse-${name}`,
      attemptCookiePrefix: `${cookiePrefix}gatehouse-login-`,
      sealKeys: deriveSealKeys(secrets, `session:${name}`),
      attemptKeys: deriveSealKeys(secrets, `login-attempt:${name}`),
      allow,
      claimNames: rc.claims,
      keptClaims: claimsUsedBy(allow, rc.claims.email),
    });
  }
  // providers no realm uses any more stop retrying
  for (const [key, provider] of deps.providers) {
    if (!usedProviders.has(key)) {
      provider.close();
      deps.providers.delete(key);
    }
  }

  const reserved = new Map<string, { kind: 'callback' | 'logout'; realm: RealmRuntime }>();
  for (const realm of realms.values()) {
    reserved.set(realm.callbackPath, { kind: 'callback', realm });
    reserved.set(realm.logoutPath, { kind: 'logout', realm });
  }

  const lifetimeMs = ms(config.session.lifetime);
  const idleTimeoutMs = ms(config.session.idle_timeout);
  const hstsMs = ms(config.listen.hsts_max_age);
  const runtime: Runtime = {
    generation: deps.generation,
    file: deps.file,
    config,
    publicUrl,
    publicOrigin,
    httpsOnly,
    cookiePrefix,
    upstream: {
      url: upstreamUrl,
      origin: upstreamUrl.origin,
      timeoutMs: ms(config.upstream.timeout),
      websockets: config.upstream.websockets,
      preserveHost: config.upstream.preserve_host,
      maxConnections: config.upstream.max_connections,
    },
    trustedProxies: buildTrustedProxies(config.trusted_proxies),
    times: { lifetimeMs, idleTimeoutMs, touchIntervalMs: touchIntervalFor(idleTimeoutMs) },
    refresh: config.session.refresh,
    reauthorizeEveryMs: ms(config.session.reauthorize_every),
    identity: { prefix: config.identity.header_prefix.toLowerCase(), names, signer, ttlMs: ms(config.identity.assertion_ttl) },
    publicPaths: compilePublicPaths(config.public_paths),
    realms,
    realmTable: new RealmTable([...realms.values()].map((realm) => ({ paths: realm.paths, realm }))),
    reserved,
    allowedRedirectOrigins: new Set(config.allowed_redirects.map((o) => new URL(o).origin)),
    corsOrigins: new Set(config.cors.allowed_origins.map((o) => new URL(o).origin)),
    hstsHeader: httpsOnly && hstsMs > 0 ? `max-age=${Math.floor(hstsMs / 1000)}` : null,
    limits: {
      maxHeaderBytes: config.limits.max_header_bytes,
      maxUrlBytes: config.limits.max_url_bytes,
      headerTimeoutMs: ms(config.limits.header_timeout),
      bodyTimeoutMs: ms(config.limits.body_timeout),
      bodyMinRate: config.limits.body_min_rate,
      failedCallbacksPerMinute: config.limits.failed_callbacks_per_minute,
    },
    adminToken: config.admin.token,
    warnings,
    clockToleranceSec: CLOCK_TOLERANCE_SEC,
    theme: buildTheme(config.pages, publicUrl.host),
    tracing: tracingSettings(config),
  };
  return Object.freeze(runtime);
}
