/**
 * Checks that relate keys to each other, or need URL / IP parsing, after the
 * schema has checked each key on its own. Returns every problem at once
 * (errors and warnings); never throws. The config may be partial: a key that
 * failed the schema is absent here, and the checks that need it are skipped.
 */
import { isIP } from 'node:net';
import type { KeyPath, Locate } from './schema-check.js';
import { formatKeyPath } from './schema-check.js';
import { parseDuration } from './duration.js';
import { RESERVED_AUTHORIZATION_PARAMS, logoutPathOf } from './defaults.js';
import { gatewaySchema } from './schema.js';
import type { ConfigProblem, GatewayConfig, RealmConfig } from './types.js';
import { REDIS_MODE_KEYS, parseRedisNode, type RedisMode } from './redis-target.js';

export type DeepPartial<T> = T extends readonly (infer U)[]
  ? readonly DeepPartial<U>[]
  : T extends object
    ? { [K in keyof T]?: DeepPartial<T[K]> | undefined }
    : T;
export type PartialConfig = DeepPartial<GatewayConfig>;

export interface ValidateWhere {
  file: string;
  locate: Locate;
}

const MIN_SECRET_LENGTH = 32;
export const MAKE_A_SECRET = `make one with: openssl rand -base64 32   (or: node -e "console.log(require('node:crypto').randomBytes(32).toString('base64'))")`;
/** below this many different characters a 32+ character secret was typed, not generated */
const MIN_DISTINCT_CHARACTERS = 8;

/**
 * Why a secret of the right length is still obviously chosen by a person, or
 * undefined. Generated secrets (openssl rand -base64 32, -hex 16) have a dozen
 * or more different characters and no long repeats; "aaaa…" and
 * "changeme-changeme-…" have neither.
 */
export function secretWeakness(secret: string): string | undefined {
  const distinct = new Set(secret).size;
  if (distinct < MIN_DISTINCT_CHARACTERS) return `it has only ${distinct} different character${distinct === 1 ? '' : 's'}`;
  // characters that copy a run of 4 or more seen earlier: a generated secret has almost none
  let copied = 0;
  for (let i = 1; i < secret.length; ) {
    let longest = 0;
    for (let from = 0; from < i; from++) {
      let n = 0;
      while (i + n < secret.length && secret[from + n] === secret[i + n]) n++;
      longest = Math.max(longest, n);
    }
    if (longest >= 4) {
      copied += longest;
      i += longest;
    } else i++;
  }
  if (copied * 2 > secret.length) return 'most of it repeats itself';
  return undefined;
}
const RESERVED_PREFIX = '/.gatehouse';
/** set by the gateway on every authorization request; an operator may not override them */

/** localhost, 127.0.0.0/8 or ::1 (a URL's hostname may carry IPv6 brackets) */
export function isLoopbackHost(hostname: string): boolean {
  const host = hostname.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  if (host === 'localhost') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  return isIP(host) === 6 && (host === '::1' || host === '0:0:0:0:0:0:0:1');
}

/** true when `path` is `prefix` or below it ("/agent" covers "/agent/x", not "/agents") */
export function isUnderPath(path: string, prefix: string): boolean {
  const base = prefix.replace(/\/+$/, '');
  return base === '' || path === base || path.startsWith(`${base}/`);
}

export function validateConfig(
  config: PartialConfig,
  where: ValidateWhere = { file: 'gateway.yaml', locate: () => ({ line: 1, column: 1 }) },
): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const add = (severity: ConfigProblem['severity']) => (path: KeyPath, message: string) => {
    problems.push({ file: where.file, ...where.locate(path), key: formatKeyPath(path), message, severity });
  };
  const error = add('error');
  const warn = add('warning');

  // public_url: an origin; https unless loopback (cookies are Secure, redirects must not leak codes)
  const publicUrl = config.public_url === undefined ? undefined : parseHttpUrl(config.public_url);
  if (config.public_url !== undefined) {
    if (publicUrl === undefined) error(['public_url'], `must be an absolute http(s) URL like https://helpdesk.example.com (got ${showUrl(config.public_url)})`);
    else {
      httpsUnlessLoopback(['public_url'], config.public_url, publicUrl, error);
      if (publicUrl.username || publicUrl.password) error(['public_url'], 'must not contain a user name or password');
      if (publicUrl.pathname !== '/' || /[?#]/.test(config.public_url)) {
        error(['public_url'], `must be an origin without path, query or fragment (got ${showUrl(config.public_url)}; try "${publicUrl.origin}")`);
      }
      if (publicUrl.protocol === 'https:' && config.listen?.tls === undefined && (config.trusted_proxies?.length ?? 0) === 0) {
        warn(['public_url'], 'behind a TLS terminator? set trusted_proxies to its address so X-Forwarded-Proto is believed');
      }
    }
  }

  if (config.upstream?.url !== undefined && parseHttpUrl(config.upstream.url) === undefined) {
    error(['upstream', 'url'], `must be an http:// or https:// URL (got ${showUrl(config.upstream.url)})`);
  }

  config.trusted_proxies?.forEach((entry, i) => {
    const problem = cidrProblem(entry);
    if (problem) error(['trusted_proxies', i], `${problem} (got "${entry}")`);
    else if (/^(0\.0\.0\.0|::)\/0$/.test(entry)) warn(['trusted_proxies', i], 'trusts every client to set X-Forwarded-*; list only your proxies');
  });

  checkSession(config, error, warn);
  checkSigning(config, error);
  checkOrigins(config, error);

  const logo = config.pages?.logo_url;
  if (logo !== undefined && !logo.startsWith('/') && parseHttpUrl(logo) === undefined) {
    error(['pages', 'logo_url'], `must be a path starting with "/" or an http(s) URL (got ${showUrl(logo)})`);
  }

  const metricsPort = config.metrics?.listen?.port;
  if (metricsPort !== undefined && metricsPort !== 0 && metricsPort === (config.listen?.port ?? 8080)) {
    error(['metrics', 'listen', 'port'], `must differ from listen.port (got ${metricsPort}): metrics get a listener of their own`);
  }

  checkTracing(config, error, warn);
  checkRealms(config, publicUrl, error, warn);
  return problems;
}

function checkTracing(config: PartialConfig, error: Report, warn: Report): void {
  const endpoint = config.observe?.tracing?.otlp_endpoint;
  if (endpoint === undefined) return;
  const path = ['observe', 'tracing', 'otlp_endpoint'];
  const url = parseHttpUrl(endpoint);
  if (url === undefined) {
    error(path, `must be an http:// or https:// URL like http://otel-collector:4318/v1/traces (got ${showUrl(endpoint)})`);
    return;
  }
  // the exporter would send them as Basic auth to no collector's liking, and the URL is shown in warnings
  if (url.username || url.password) {
    error(path, 'must not contain a user name or password (give collector credentials in OTEL_EXPORTER_OTLP_TRACES_HEADERS)');
    return;
  }
  // the URL is used as written: a bare collector address gets every export answered 404
  if (url.pathname === '/') warn(path, `has no path: OTLP/HTTP collectors take traces at /v1/traces (try "${url.origin}/v1/traces")`);
}

type Report = (path: KeyPath, message: string) => void;

function checkSession(config: PartialConfig, error: Report, warn: Report): void {
  const session = config.session;
  if (session === undefined) return;
  const secrets = typeof session.secret === 'string' ? [session.secret] : session.secret;
  if (secrets !== undefined) {
    secrets.forEach((secret, i) => {
      const path = typeof session.secret === 'string' ? ['session', 'secret'] : ['session', 'secret', i];
      // the length and the kind of weakness only: a secret is never echoed
      if (secret.length < MIN_SECRET_LENGTH) error(path, `must be at least ${MIN_SECRET_LENGTH} characters (got ${secret.length}); ${MAKE_A_SECRET}`);
      else {
        const weak = secretWeakness(secret);
        if (weak !== undefined) error(path, `does not look random: ${weak}; ${MAKE_A_SECRET}`);
      }
    });
    // A single secret (not a list) is a normal setup: check mentions rotation as a note, not a warning.
  }
  checkRedis(session, error, warn);
  const lifetime = session.lifetime === undefined ? null : parseDuration(session.lifetime);
  const idle = session.idle_timeout === undefined ? null : parseDuration(session.idle_timeout);
  if (lifetime !== null && idle !== null && idle > lifetime) {
    warn(['session', 'idle_timeout'], `is longer than lifetime (${session.lifetime}), so it never applies`);
  }
  // without refresh tokens the gateway cannot ask the provider again: the sign-in's verdict stands until lifetime
  if (session.refresh === false) {
    warn(
      ['session', 'refresh'],
      `is false: sessions are never re-authorized at the provider, so a person removed or disabled there keeps access until lifetime (${session.lifetime ?? gatewaySchema.keys.session.keys.lifetime.default}) ends; shorten lifetime or use back-channel logout`,
    );
  }
  const reauthorize = session.reauthorize_every === undefined ? null : parseDuration(session.reauthorize_every);
  if (lifetime !== null && reauthorize !== null && reauthorize >= lifetime) {
    warn(['session', 'reauthorize_every'], `is not shorter than lifetime (${session.lifetime}), so it never applies`);
  }
}

type SessionKeys = NonNullable<PartialConfig['session']>;

/** Exactly one way to name a Redis (redis_url, redis_sentinels + redis_sentinel_master, redis_cluster), each well-formed. */
function checkRedis(session: SessionKeys, error: Report, warn: Report): void {
  const modes = (Object.keys(REDIS_MODE_KEYS) as RedisMode[]).filter((mode) => session[REDIS_MODE_KEYS[mode]] !== undefined);
  const ways = 'session.redis_url (one server), session.redis_sentinels with session.redis_sentinel_master (Sentinel), or session.redis_cluster (Cluster)';
  if (modes.length === 0) {
    if (session.store === 'redis') error(['session', 'redis_url'], `required when store is redis: set one of ${ways}`);
    if (session.redis_sentinel_master !== undefined)
      error(['session', 'redis_sentinel_master'], 'needs session.redis_sentinels: the sentinels that watch this master (host:port each)');
    if (session.redis_password !== undefined) warn(['session', 'redis_password'], `is set but no Redis is: set one of ${ways}, or remove it`);
    return;
  }
  if (modes.length > 1) {
    const [first, ...others] = modes.map((mode) => REDIS_MODE_KEYS[mode]);
    for (const key of others) error(['session', key], `cannot be set together with session.${first}: set exactly one of ${ways}`);
    return;
  }
  const mode = modes[0]!;
  if (mode === 'server') {
    const url = session.redis_url!;
    // with store: cookie, redis_url shares revocations, spent states and refresh locks between instances (docs/sessions.md)
    if (!/^rediss?:\/\/[^/]/.test(url)) error(['session', 'redis_url'], `must be a redis:// or rediss:// URL (got ${showUrl(url)})`);
    else if (session.redis_password !== undefined && /^rediss?:\/\/[^/@]*:[^/@]+@/.test(url)) {
      error(['session', 'redis_password'], 'is set and session.redis_url carries a password too: keep one of them');
    }
  } else {
    const key = REDIS_MODE_KEYS[mode];
    const entries = session[key]!;
    const schemes = new Set<boolean>();
    entries.forEach((entry, i) => {
      const parsed = parseRedisNode(entry, mode === 'sentinel' ? 26379 : 6379);
      if (typeof parsed === 'string') error(['session', key, i], `${parsed} (got ${showUrl(entry)})`);
      else schemes.add(parsed.tls);
    });
    if (schemes.size > 1) error(['session', key], 'mixes redis:// (or host:port) and rediss:// entries: TLS is on for all of them or for none');
  }
  if (mode === 'sentinel' && session.redis_sentinel_master === undefined) {
    error(
      ['session', 'redis_sentinels'],
      'needs session.redis_sentinel_master: the master name the sentinels watch (`sentinel monitor <name> …` in sentinel.conf)',
    );
  }
  if (mode !== 'sentinel' && session.redis_sentinel_master !== undefined) {
    error(
      ['session', 'redis_sentinel_master'],
      `applies only with session.redis_sentinels (session.${REDIS_MODE_KEYS[mode]} is set): remove it, or name the sentinels instead`,
    );
  }
}

function checkSigning(config: PartialConfig, error: Report): void {
  const signing = config.identity?.signing;
  if (signing?.alg === undefined) return;
  if (signing.alg === 'HS256') {
    if (signing.secret === undefined) error(['identity', 'signing', 'secret'], 'required when alg is HS256');
    else if (signing.secret.length < MIN_SECRET_LENGTH) {
      error(['identity', 'signing', 'secret'], `must be at least ${MIN_SECRET_LENGTH} characters (got ${signing.secret.length})`);
    }
    if (signing.key_file !== undefined) error(['identity', 'signing', 'key_file'], 'must not be set when alg is HS256 (HS256 uses secret)');
  } else if (signing.secret !== undefined) {
    error(['identity', 'signing', 'secret'], `must not be set when alg is ${signing.alg} (it uses key_file; secret is for HS256 only)`);
  }
}

function checkOrigins(config: PartialConfig, error: Report): void {
  config.allowed_redirects?.forEach((origin, i) => {
    const problem = originProblem(origin);
    if (problem) error(['allowed_redirects', i], problem);
  });
  config.cors?.allowed_origins?.forEach((origin, i) => {
    const problem = origin === '*' ? 'must name an origin; "*" cannot be used with credentialed requests' : originProblem(origin);
    if (problem) error(['cors', 'allowed_origins', i], problem);
  });
}

function checkRealms(config: PartialConfig, publicUrl: URL | undefined, error: Report, warn: Report): void {
  const endpoints = new Map<string, string>();
  const prefixes = new Map<string, string>();
  const redirectOrigins = new Set(config.allowed_redirects ?? []);
  if (publicUrl) redirectOrigins.add(publicUrl.origin);

  for (const [name, realm] of Object.entries(config.realms ?? {})) {
    if (realm === undefined) continue;
    const at = (...path: (string | number)[]): KeyPath => ['realms', name, ...path];

    realm.paths?.forEach((path, i) => {
      const key = path.replace(/\/+$/, '') || '/';
      if (isUnderPath(path, RESERVED_PREFIX)) error(at('paths', i), `is under ${RESERVED_PREFIX}/, which is reserved for the gateway`);
      const owner = prefixes.get(key);
      if (owner !== undefined && owner !== name) error(at('paths', i), `is already a path of realm ${owner}`);
      else prefixes.set(key, name);
    });

    const logout = logoutPathOf(realm);
    for (const [kind, path] of [
      ['callback_path', realm.callback_path],
      ['logout_path', logout],
    ] as const) {
      if (path === undefined) continue;
      const what = kind === 'logout_path' && realm.logout_path === undefined ? `the default logout path ${path}` : `"${path}"`;
      if (isUnderPath(path, RESERVED_PREFIX)) error(at(kind), `${what} is under ${RESERVED_PREFIX}/, which is reserved for the gateway`);
      const owner = endpoints.get(path);
      if (owner !== undefined)
        error(at(kind), `${what} is already ${owner}${realm.logout_path === undefined && kind === 'logout_path' ? '; set logout_path' : ''}`);
      else endpoints.set(path, `realm ${name}'s ${kind}`);
    }

    // the provider compares the redirect URI character for character; a trailing "/" is a different URI
    if (realm.callback_path !== undefined && realm.callback_path.length > 1 && realm.callback_path.endsWith('/')) {
      error(
        at('callback_path'),
        `must not end with "/": the provider compares the registered redirect URI character for character (got "${realm.callback_path}"; try "${realm.callback_path.replace(/\/+$/, '')}")`,
      );
    }
    if (
      realm.callback_path !== undefined &&
      realm.paths !== undefined &&
      realm.paths.length > 0 &&
      !realm.paths.some((p) => isUnderPath(realm.callback_path!, p))
    ) {
      warn(
        at('callback_path'),
        `is not under any of this realm's paths (${realm.paths.join(', ')}), so the sign-in response is handled outside the realm's own URL space`,
      );
    }

    const redirect = realm.post_logout_redirect;
    if (redirect !== undefined && !isSafeRedirect(redirect, redirectOrigins)) {
      error(
        at('post_logout_redirect'),
        `must be a path starting with "/" (not "//") or a URL whose origin is public_url's or listed in allowed_redirects (got ${showUrl(redirect)})`,
      );
    }
    checkProvider(realm, at, error, warn);
    checkEmailClaim(realm, at, error);
  }
}

function checkProvider(realm: DeepPartial<RealmConfig>, at: (...path: string[]) => KeyPath, error: Report, warn: Report): void {
  const provider = realm.provider;
  if (provider === undefined) return;
  if (provider.issuer !== undefined) {
    const url = parseHttpUrl(provider.issuer);
    if (url === undefined) error(at('provider', 'issuer'), `must be an https:// URL (got ${showUrl(provider.issuer)})`);
    else {
      httpsUnlessLoopback(at('provider', 'issuer'), provider.issuer, url, error);
      // OIDC Discovery 4.1 / RFC 8414: an issuer has no query or fragment
      if (/[?#]/.test(provider.issuer)) error(at('provider', 'issuer'), `must not have a query or fragment (got ${showUrl(provider.issuer)})`);
    }
  }
  const auth = provider.client_auth;
  if ((auth === 'client_secret_basic' || auth === 'client_secret_post') && provider.client_secret === undefined) {
    error(at('provider', 'client_secret'), `required when client_auth is ${auth}`);
  }
  if (auth === 'private_key_jwt') {
    if (provider.private_key_file === undefined) error(at('provider', 'private_key_file'), 'required when client_auth is private_key_jwt');
    if (provider.client_secret !== undefined) warn(at('provider', 'client_secret'), 'is not used when client_auth is private_key_jwt');
  } else if (auth !== undefined && provider.private_key_file !== undefined) {
    warn(at('provider', 'private_key_file'), `is not used when client_auth is ${auth}`);
  }
  for (const param of Object.keys(provider.extra_auth_params ?? {})) {
    if (RESERVED_AUTHORIZATION_PARAMS.has(param)) error(at('provider', 'extra_auth_params', param), 'is set by the gateway itself and cannot be overridden');
  }
  if ((realm.allow?.email_domains?.length ?? 0) > 0 && provider.scopes !== undefined && !provider.scopes.includes('email')) {
    warn(at('provider', 'scopes'), 'lack "email" while allow.email_domains is set: the provider may not send the email claim');
  }
}

/**
 * email_verified speaks for the "email" claim only (OIDC Core 5.1). With another
 * claim as the email (Entra's preferred_username, which the README suggests when
 * people have no mailbox), allow.email_domains would check a value nothing
 * verified, and at some providers the person chooses it. Refused unless the
 * operator says the unverified value is acceptable.
 */
function checkEmailClaim(realm: DeepPartial<RealmConfig>, at: (...path: string[]) => KeyPath, error: Report): void {
  const claim = realm.claims?.email;
  if (claim === undefined || claim === 'email' || (realm.allow?.email_domains?.length ?? 0) === 0 || realm.allow?.allow_unverified_email === true) return;
  error(
    at('claims', 'email'),
    `is "${claim}" while allow.email_domains is set, but email_verified vouches only for the "email" claim, so the domain would be checked on a value nobody verified. ` +
      "Write claims.email: email, or restrict with allow.claims instead, or, if the provider itself controls this claim (for example Entra ID's user principal name), say so with allow.allow_unverified_email: true",
  );
}

function httpsUnlessLoopback(path: KeyPath, text: string, url: URL, error: Report): void {
  if (url.protocol !== 'https:' && !isLoopbackHost(url.hostname)) {
    error(path, `must be https:// unless the host is loopback (got ${showUrl(text)})`);
  }
}

function parseHttpUrl(text: string): URL | undefined {
  if (!URL.canParse(text)) return undefined;
  const url = new URL(text);
  return url.protocol === 'http:' || url.protocol === 'https:' ? url : undefined;
}

/** a relative path on this site, or an absolute URL on an allowed origin */
function isSafeRedirect(target: string, origins: ReadonlySet<string>): boolean {
  // "//evil.example" and "/\evil.example" are protocol-relative to browsers
  if (target.startsWith('/')) return !/^\/[/\\]/.test(target);
  const url = parseHttpUrl(target);
  return url !== undefined && origins.has(url.origin);
}

function originProblem(text: string): string | undefined {
  const url = parseHttpUrl(text);
  if (url === undefined) return `must be an origin like https://app.example.com (got ${showUrl(text)})`;
  if (url.origin !== text) return `must be a bare origin, scheme://host[:port] (got ${showUrl(text)}; try "${url.origin}")`;
  return undefined;
}

function cidrProblem(text: string): string | undefined {
  const [address = '', prefix, ...rest] = text.split('/');
  const family = isIP(address);
  if (family === 0 || rest.length > 0) return 'must be an IP address or CIDR like 10.0.0.0/8';
  if (prefix === undefined) return undefined;
  const bits = /^\d{1,3}$/.test(prefix) ? Number(prefix) : NaN;
  const max = family === 4 ? 32 : 128;
  return bits >= 0 && bits <= max ? undefined : `must have a prefix length between 0 and ${max}`;
}

/** A URL for a problem message, with any password masked. */
function showUrl(text: string): string {
  return JSON.stringify(text.replace(/^([a-z][a-z0-9+.-]*:\/\/[^/@:]*):[^/@]*@/i, '$1:***@'));
}
