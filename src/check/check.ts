/**
 * `gatehouse check`: the doctor. Everything an operator would otherwise learn
 * in production, before the first request: every configuration problem at once
 * (file:line:column key), each provider's discovery and JWKS reached, the
 * provider's clock against ours, the mistakes that bite later (a TLS terminator
 * that is not trusted, callbacks that shadow helpdesk pages, no end-session
 * endpoint, scopes without email), notes worth knowing (a secret written
 * without a rotation list, a custom claim the provider does not list), and what to register
 * at each provider. Exit 0 ok, 1 something fails, 2 the file is invalid.
 */
import { readFileSync } from 'node:fs';
import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import { request } from 'undici';
import { LineCounter, parseDocument } from 'yaml';
import { loadConfigFile, type LoadedConfig } from '../config/load.js';
import type { ConfigProblem, GatewayConfig } from '../config/types.js';
import { formatKeyPath, type KeyPath } from '../config/schema-check.js';
import { ConfigError, isGatehouseError } from '../errors.js';
import { discoveryUrl, parseDiscovery } from '../oidc/provider.js';
import { jsonObject, providerRequest } from '../oidc/http.js';
import { compilePublicPaths } from '../routing/realm.js';
import { logoutPathOf } from '../config/defaults.js';
import { realmUrls } from '../runtime.js';
import { clientAssertionKey, proveClientAssertionKey } from '../oidc/client-key.js';
import { UNTRUSTED_TERMINATOR_FIX, untrustedTerminatorHint } from '../observe/proxy-hint.js';
import { checkProviderSupport, clockFindings, type ProviderReport } from './provider.js';
import { PERSISTENCE_FIX, describePersistence, probeRedisTarget, type RedisReport } from './redis.js';
import { REDIS_MODE_KEYS, redisTarget } from '../config/redis-target.js';

export type { ProviderReport } from './provider.js';
export type { RedisReport } from './redis.js';

export interface Finding {
  /** info: worth knowing, nothing to fix (printed under "notes:") */
  severity: 'error' | 'warning' | 'info';
  /** file:line:column when the finding is about a key of the file */
  at?: string | undefined;
  key?: string | undefined;
  message: string;
  /** what to write in gateway.yaml (or do) to fix it */
  fix?: string | undefined;
}

/** What to enter in the provider's client (application) settings, per realm. */
export interface Registration {
  realm: string;
  issuer: string;
  client_id: string;
  client_auth: string;
  redirect_uri: string;
  post_logout_redirect_uri: string;
  web_origin: string;
  /** Auth0's "Allowed Origins (CORS)", the fourth list of the helpdesk's guide */
  cors_origin: string;
  backchannel_logout_uri: string;
  grant_types: string[];
  scopes: string[];
}

export interface CheckReport {
  ok: boolean;
  exit_code: 0 | 1 | 2;
  file: string;
  problems: Finding[];
  warnings: Finding[];
  /** worth knowing, nothing to fix */
  notes: Finding[];
  providers: ProviderReport[];
  upstream?: { url: string; reachable: boolean; status?: number | undefined; error?: string | undefined } | undefined;
  /** the Redis (server, Sentinel or Cluster): every node reachable, the master found, whether it keeps sessions across its own restart */
  redis?: RedisReport | undefined;
  register: Registration[];
}

export interface CheckOptions {
  /** per network call; default 5 s */
  timeoutMs?: number;
  now?: () => number;
  env?: NodeJS.ProcessEnv;
}

const TLS_EXPIRY_WARNING_DAYS = 14;

function fromProblem(p: Pick<ConfigProblem, 'severity' | 'file' | 'line' | 'column' | 'key' | 'message'>): Finding {
  return { severity: p.severity, at: `${p.file}:${p.line}:${p.column}`, key: p.key || undefined, message: p.message };
}

/** Validate the file and, when it is valid, run every check. Never throws for a bad file: that is exit 2. */
export async function checkFile(file: string, options: CheckOptions = {}): Promise<CheckReport> {
  let loaded: LoadedConfig;
  try {
    loaded = loadConfigFile(file, options.env ?? process.env);
  } catch (error) {
    const problems =
      error instanceof ConfigError ? error.problems : [{ file, line: 1, column: 1, key: '', message: (error as Error).message, severity: 'error' as const }];
    return {
      ok: false,
      exit_code: 2,
      file,
      problems: problems.filter((p) => p.severity === 'error').map(fromProblem),
      warnings: problems.filter((p) => p.severity === 'warning').map(fromProblem),
      notes: [],
      providers: [],
      register: [],
    };
  }
  return runCheck(loaded, options);
}

/** Where a key is written in the file (for findings the loader did not make); undefined for an embedded config. */
function keyLocator(file: string): (path: KeyPath) => string | undefined {
  let doc: ReturnType<typeof parseDocument> | undefined;
  const lines = new LineCounter();
  try {
    doc = parseDocument(readFileSync(file, 'utf8'), { lineCounter: lines });
  } catch {
    doc = undefined;
  }
  return (path) => {
    for (let n = path.length; doc && n > 0; n--) {
      const node = doc.getIn(path.slice(0, n), true) as { range?: [number, number, number] } | undefined;
      if (node?.range) {
        const { line, col } = lines.linePos(node.range[0]);
        return `${file}:${line}:${col}`;
      }
    }
    return undefined;
  };
}

export async function runCheck(loaded: LoadedConfig, options: CheckOptions = {}): Promise<CheckReport> {
  const { config, file } = loaded;
  const timeoutMs = options.timeoutMs ?? 5000;
  const now = options.now ?? Date.now;
  const locate = keyLocator(file);
  const findings: Finding[] = [];
  const add = (severity: Finding['severity'], path: KeyPath | null, message: string, fix?: string): void => {
    findings.push({ severity, at: path ? locate(path) : undefined, key: path ? formatKeyPath(path) : undefined, message, fix });
  };

  for (const w of loaded.warnings) {
    // the loader's terse hint about trusted_proxies is replaced by the doctor's own, which says what to write
    if (w.key === 'public_url' && w.message.includes('trusted_proxies')) continue;
    findings.push(fromProblem(w));
  }
  checkHttpsBehindProxy(config, add);
  if (typeof config.session.secret === 'string') {
    // a normal setup, not a mistake: said once here, never as a warning at every start
    add(
      'info',
      ['session', 'secret'],
      'one secret: to change it later without signing everyone out, write it as a list and put the new secret first (the first encrypts, all decrypt; docs/sessions.md)',
    );
  }
  checkFiles(config, now(), add);
  checkShadowedPaths(config, add);

  const origin = new URL(config.public_url).origin;
  // the runtime's own derivation: what is registered is what the gateway will answer
  const urls = (name: string, realm: GatewayConfig['realms'][string]) => realmUrls(origin, name, realm);
  const register = Object.entries(config.realms).map(
    ([name, realm]): Registration => ({
      realm: name,
      issuer: realm.provider.issuer,
      client_id: realm.provider.client_id,
      client_auth: realm.provider.client_auth,
      redirect_uri: urls(name, realm).callbackUrl,
      post_logout_redirect_uri: urls(name, realm).postLogoutRedirect,
      web_origin: origin,
      cors_origin: origin,
      backchannel_logout_uri: urls(name, realm).backchannelLogoutUrl,
      grant_types: config.session.refresh ? ['authorization_code', 'refresh_token'] : ['authorization_code'],
      scopes: [...new Set(['openid', ...realm.provider.scopes])],
    }),
  );

  const byIssuer = new Map<string, string[]>();
  const documents = new Map<string, Record<string, unknown>>();
  for (const [name, realm] of Object.entries(config.realms)) byIssuer.set(realm.provider.issuer, [...(byIssuer.get(realm.provider.issuer) ?? []), name]);
  const [providers, upstream, redis] = await Promise.all([
    Promise.all([...byIssuer].map(([issuer, realms]) => probeProvider(issuer, realms, timeoutMs, now, documents))),
    probeUpstream(config.upstream.url, timeoutMs),
    redisTarget(config.session) ? probeRedisTarget(redisTarget(config.session)!, timeoutMs) : undefined,
  ]);
  if (redis) checkRedis(config, redis, add);

  for (const provider of providers) {
    if (provider.error)
      add(
        'error',
        ['realms', provider.realms[0]!, 'provider', 'issuer'],
        `provider ${provider.issuer} (realms ${provider.realms.join(', ')}): ${provider.error}`,
      );
    for (const f of clockFindings(provider)) add(f.severity, null, f.message, f.fix);
    const doc = documents.get(provider.issuer);
    if (doc)
      for (const realm of provider.realms)
        for (const f of checkProviderSupport(doc, provider, config.realms[realm]!, realm)) add(f.severity, f.path, f.message, f.fix);
  }
  if (!upstream.reachable) {
    add(
      'warning',
      ['upstream', 'url'],
      `the helpdesk at ${config.upstream.url} cannot be reached from here (${upstream.error}); /.gatehouse/readyz stays false until it can`,
    );
  }

  const problems = findings.filter((f) => f.severity === 'error');
  const warnings = findings.filter((f) => f.severity === 'warning');
  const notes = findings.filter((f) => f.severity === 'info');
  const ok = problems.length === 0;
  return { ok, exit_code: ok ? 0 : 1, file, problems, warnings, notes, providers, upstream, redis, register };
}

/** Redis must answer (store: redis), and should keep what it holds when it restarts. */
function checkRedis(config: GatewayConfig, redis: RedisReport, add: Add): void {
  const key = ['session', REDIS_MODE_KEYS[redis.mode]];
  for (const node of redis.nodes ?? []) {
    // one sentinel or one replica away: the gateway still works, but a failover would not
    if (!node.reachable && node.role !== 'master') add('warning', key, `${node.role} ${node.address}: ${node.error}; Redis keeps working, a failover may not`);
  }
  if (!redis.reachable) {
    if (config.session.store === 'redis') add('error', key, `Redis at ${redis.address}: ${redis.error}; every signed-in request would answer 503`);
    return;
  }
  if (redis.persistence === 'none') {
    const lost =
      config.session.store === 'redis'
        ? 'every session is lost (everyone signs in again) and so is every sign-out it remembered'
        : 'every sign-out it remembered is lost (a signed-out cookie that has not expired works again)';
    add(
      'warning',
      key,
      `Redis at ${redis.address} keeps nothing across its own restart (appendonly ${redis.appendonly}, save "${redis.save}"): when it restarts, ${lost}`,
      PERSISTENCE_FIX,
    );
  }
}

type Add = (severity: Finding['severity'], path: KeyPath | null, message: string, fix?: string) => void;

/** The redirect loop of every other gateway (see observe/proxy-hint.ts). */
function checkHttpsBehindProxy(config: GatewayConfig, add: Add): void {
  const hint = untrustedTerminatorHint(config);
  if (hint) add('warning', ['public_url'], hint, UNTRUSTED_TERMINATOR_FIX);
}

/** Files named in the config: readable, parseable, and (for the TLS certificate) not about to expire. */
function checkFiles(config: GatewayConfig, nowMs: number, add: Add): void {
  const tls = config.listen.tls;
  if (tls) {
    let cert: X509Certificate | undefined;
    try {
      cert = new X509Certificate(readFileSync(tls.cert));
    } catch (error) {
      add('error', ['listen', 'tls', 'cert'], `cannot read a PEM certificate from ${tls.cert}: ${(error as Error).message}`);
    }
    let key: KeyObject | undefined;
    try {
      key = createPrivateKey(readFileSync(tls.key));
    } catch (error) {
      add('error', ['listen', 'tls', 'key'], `cannot read a PEM private key from ${tls.key}: ${(error as Error).message}`);
    }
    if (cert) {
      const expires = Date.parse(cert.validTo);
      const days = Math.floor((expires - nowMs) / 86_400_000);
      if (expires <= nowMs) add('error', ['listen', 'tls', 'cert'], `the certificate expired on ${cert.validTo}`);
      else if (days < TLS_EXPIRY_WARNING_DAYS)
        add('warning', ['listen', 'tls', 'cert'], `the certificate expires in ${days} day(s) (${cert.validTo}); replace the file and send SIGHUP`);
      if (key && !cert.checkPrivateKey(key)) add('error', ['listen', 'tls', 'key'], 'this private key does not belong to the certificate in listen.tls.cert');
    }
  }
  const signingKey = config.identity.signing.key_file;
  if (signingKey !== undefined) {
    try {
      createPrivateKey(readFileSync(signingKey));
    } catch (error) {
      add('error', ['identity', 'signing', 'key_file'], `cannot read a PEM private key from ${signingKey}: ${(error as Error).message}`);
    }
  }
  for (const [name, realm] of Object.entries(config.realms)) {
    const file = realm.provider.private_key_file;
    if (file === undefined) continue;
    // proven by signing, as the token request will: a key that only parses can still fail there
    try {
      proveClientAssertionKey(clientAssertionKey(readFileSync(file)));
    } catch (error) {
      add('error', ['realms', name, 'provider', 'private_key_file'], `cannot sign a client assertion with the key in ${file}: ${(error as Error).message}`);
    }
  }
}

/** A callback or logout path the gateway answers itself hides whatever the helpdesk serves at that exact path. */
function checkShadowedPaths(config: GatewayConfig, add: Add): void {
  const publicPaths = compilePublicPaths(config.public_paths);
  const realmPaths = new Map<string, string>();
  for (const [name, realm] of Object.entries(config.realms)) for (const p of realm.paths) realmPaths.set(p.replace(/\/+$/, '') || '/', name);
  for (const [name, realm] of Object.entries(config.realms)) {
    const logout = logoutPathOf(realm)!;
    for (const [key, path] of [
      ['callback_path', realm.callback_path],
      ['logout_path', logout],
    ] as const) {
      const owner = realmPaths.get(path.replace(/\/+$/, '') || '/');
      if (owner !== undefined) {
        add(
          'warning',
          ['realms', name, key],
          `${path} is the entry page of realm ${owner}: the gateway answers it itself, so the helpdesk's page there is never reached`,
          `${key}: ${path === '/' ? '' : path}/login/authenticate-callback/1   # a path of its own`,
        );
      }
      if (publicPaths?.test(path)) {
        add('warning', ['realms', name, key], `${path} matches public_paths, but the gateway answers it itself: it is never forwarded anonymously`);
      }
    }
  }
}

async function probeProvider(
  issuer: string,
  realms: string[],
  timeoutMs: number,
  now: () => number,
  documents: Map<string, Record<string, unknown>>,
): Promise<ProviderReport> {
  const report: ProviderReport = { issuer, realms, discovery: 'failed', jwks: 'skipped' };
  const url = discoveryUrl(issuer);
  try {
    const sentAt = now();
    const response = await providerRequest(url, { timeoutMs, headers: { accept: 'application/json' } });
    const receivedAt = now();
    const date = response.headers.date;
    if (typeof date === 'string' && !Number.isNaN(Date.parse(date))) {
      // the Date header has one-second resolution (RFC 9110 5.6.7): compare with the middle of the round trip
      report.clock_skew_seconds = Math.round((Date.parse(date) - (sentAt + receivedAt) / 2) / 100) / 10;
    }
    if (response.status !== 200) throw new Error(`${url} answered HTTP ${response.status}`);
    const doc = jsonObject(response);
    const metadata = parseDiscovery(doc, issuer);
    report.discovery = 'ok';
    documents.set(issuer, doc!);
    report.end_session_endpoint = metadata.end_session_endpoint;
    report.backchannel_logout_supported = metadata.backchannel_logout_supported;
    report.jwks = 'failed';
    const jwksResponse = await providerRequest(metadata.jwks_uri, { timeoutMs, headers: { accept: 'application/json' } });
    if (jwksResponse.status !== 200) throw new Error(`JWKS ${metadata.jwks_uri} answered HTTP ${jwksResponse.status}`);
    const keys = jsonObject(jwksResponse)?.keys;
    if (!Array.isArray(keys) || keys.length === 0) throw new Error(`JWKS ${metadata.jwks_uri} has no keys`);
    const signing = keys.filter((k) => typeof k === 'object' && k !== null && (k as { use?: string }).use !== 'enc');
    if (signing.length === 0) throw new Error(`JWKS ${metadata.jwks_uri} has no signing keys`);
    report.jwks = 'ok';
    report.keys = signing.length;
  } catch (error) {
    const cause = (error as { cause?: { code?: string } }).cause?.code ?? (error as { code?: string }).code;
    report.error = isGatehouseError(error)
      ? `${error.code}: ${error.detail ?? error.message}`
      : `${(error as Error).message}${cause && !(error as Error).message.includes(cause) ? ` (${cause})` : ''}`;
    if (report.discovery === 'failed') report.error = `cannot load ${url}: ${report.error}`;
  }
  return report;
}

async function probeUpstream(url: string, timeoutMs: number): Promise<NonNullable<CheckReport['upstream']>> {
  try {
    const response = await request(new URL('/', url), { method: 'HEAD', headersTimeout: timeoutMs, bodyTimeout: timeoutMs });
    await response.body.dump();
    return { url, reachable: true, status: response.statusCode };
  } catch (error) {
    const code = (error as { code?: string }).code;
    return { url, reachable: false, error: code ?? (error as Error).message };
  }
}

function formatFinding(f: Finding): string[] {
  // the loader's own layout: `gateway.yaml:23:7  realms.agent.provider.issuer: message`
  const lines = [`  ${f.at ? `${f.at}  ` : ''}${f.key ? `${f.key}: ` : ''}${f.message}`];
  if (f.fix) lines.push(`      fix: ${f.fix}`);
  return lines;
}

export function formatCheck(report: CheckReport): string {
  const lines: string[] = [];
  if (report.exit_code === 2) {
    lines.push(`${report.file}: the configuration is invalid`);
    for (const p of report.problems) lines.push(...formatFinding(p));
    if (report.warnings.length) lines.push('warnings:', ...report.warnings.flatMap(formatFinding));
    lines.push(`${report.problems.length} problem${report.problems.length === 1 ? '' : 's'} — gatehouse would not start (exit 2)`);
    return lines.join('\n');
  }
  for (const p of report.providers) {
    lines.push(`provider ${p.issuer}  (realms: ${p.realms.join(', ')})`);
    lines.push(`  discovery: ${p.discovery}   jwks: ${p.jwks}${p.keys !== undefined ? ` (${p.keys} signing key${p.keys === 1 ? '' : 's'})` : ''}`);
    if (p.clock_skew_seconds !== undefined)
      lines.push(`  clock: provider is ${Math.abs(p.clock_skew_seconds)} s ${p.clock_skew_seconds >= 0 ? 'ahead of' : 'behind'} this machine (±1 s)`);
    if (p.discovery === 'ok')
      lines.push(
        `  end_session_endpoint: ${p.end_session_endpoint ?? 'none'}   back-channel logout: ${p.backchannel_logout_supported ? 'supported' : 'not advertised'}`,
      );
  }
  if (report.upstream)
    lines.push(
      `upstream ${report.upstream.url}: ${report.upstream.reachable ? `reachable (HTTP ${report.upstream.status})` : `NOT reachable (${report.upstream.error})`}`,
    );
  if (report.redis) {
    const redis = report.redis;
    const mode =
      redis.mode === 'server' ? '' : ` (${redis.mode}${redis.masters ? `, master${redis.masters.length === 1 ? '' : 's'} ${redis.masters.join(', ')}` : ''})`;
    lines.push(
      `redis ${redis.address}${mode}: ${redis.reachable ? `reachable; persistence: ${describePersistence(redis)}` : `NOT reachable (${redis.error})`}`,
    );
    for (const node of redis.nodes ?? [])
      lines.push(`  ${node.role} ${node.address}: ${node.reachable ? 'reachable' : `NOT reachable (${node.error})`}${node.detail ? `; ${node.detail}` : ''}`);
  }
  for (const r of report.register) {
    lines.push(`register at ${r.issuer} for realm ${r.realm} (client_id ${r.client_id}):`);
    lines.push(`    Allowed callback / redirect URI:   ${r.redirect_uri}`);
    lines.push(`    Allowed logout / post-logout URI:  ${r.post_logout_redirect_uri}`);
    lines.push(`    Allowed web origin:                ${r.web_origin}`);
    lines.push(`    Allowed origin (CORS):             ${r.cors_origin}`);
    lines.push(`    Back-channel logout URI:           ${r.backchannel_logout_uri}`);
    lines.push(`    Token endpoint auth method:        ${r.client_auth}`);
    lines.push(`    Grant types:                       ${r.grant_types.join(', ')}`);
    lines.push(`    Scopes:                            ${r.scopes.join(' ')}`);
  }
  if (report.problems.length) lines.push('problems:', ...report.problems.flatMap(formatFinding));
  if (report.warnings.length) lines.push('warnings:', ...report.warnings.flatMap(formatFinding));
  if (report.notes.length) lines.push('notes:', ...report.notes.flatMap(formatFinding));
  const count = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;
  lines.push(`${report.file}: ${report.ok ? 'ok' : 'FAILED'} — ${count(report.problems.length, 'problem')}, ${count(report.warnings.length, 'warning')}`);
  return lines.join('\n');
}
