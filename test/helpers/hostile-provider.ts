// A small hand-written OpenID Provider on loopback that the hostile tests control
// completely: discovery, a JWKS of RS256 / ES256 / EdDSA keys that can be swapped
// or rotated, an authorize endpoint that redirects straight back to the gateway's
// real callback with code + state (+ iss), a token endpoint whose ID token each
// case can forge, and userinfo. It checks what a real provider checks (client
// authentication, single-use codes, PKCE S256) so that a gateway bug, not a lax
// provider, is what a test sees. Also here: `startHostileStack`, which wires this
// provider, a recording upstream and the real gateway (same YAML loading as an
// operator's file), and the browser steps of a sign-in.
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { SignJWT, exportJWK, generateKeyPair, type CryptoKey, type JWK } from 'jose';
import { parseConfigText } from '../../src/config/load.js';
import type { GatewayConfig } from '../../src/config/types.js';
import { startGateway, type RunningGateway } from '../../src/server.js';
import { startStack } from '../../src/demo/stack.js';
import { captureLogger, NAVIGATION } from './stack.js';
import { ERROR_CODES, type ErrorCode } from '../../src/errors.js';
import type { Logger } from '../../src/observe/log.js';
import { startUpstream, type Upstream } from './upstream.js';
import { CookieJar, fetchWithJar, type FetchWithJarResult } from './browserless.js';

export type KeyAlg = 'RS256' | 'ES256' | 'EdDSA';

export interface SigningKey {
  alg: KeyAlg;
  kid: string;
  privateKey: CryptoKey;
  publicKey: CryptoKey;
  publicJwk: JWK;
}

export async function newSigningKey(alg: KeyAlg, kid = `${alg.toLowerCase()}-${randomBytes(4).toString('hex')}`): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true, ...(alg === 'EdDSA' ? { crv: 'Ed25519' } : {}) });
  const publicJwk = { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' };
  return { alg, kid, privateKey, publicKey, publicJwk };
}

const b64 = (value: unknown): string => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');

/** A compact JWS from any header and payload, signed by `sign` (or unsigned): for tokens jose would refuse to make. */
export function rawJws(header: Record<string, unknown>, payload: Record<string, unknown>, signature = ''): string {
  return `${b64(header)}.${b64(payload)}.${signature}`;
}

export interface IssuedCode {
  code: string;
  clientId: string;
  redirectUri: string;
  state: string;
  nonce: string | undefined;
  codeChallenge: string | undefined;
  used: boolean;
}

export interface TokenContext {
  /** the authenticated client */
  clientId: string;
  /** what the authorize request of this code carried */
  grant: IssuedCode;
  /** the claims of a correct ID token for this grant; change a copy */
  claims: Record<string, unknown>;
  /** sign claims with one of the provider's keys (default: the current signing key) */
  sign(claims: Record<string, unknown>, opts?: { alg?: KeyAlg; key?: SigningKey; header?: Record<string, unknown>; noKid?: boolean }): Promise<string>;
}

export interface RawReply {
  status?: number;
  contentType?: string;
  body: string | Record<string, unknown>;
  /** drop the connection instead of answering */
  destroy?: boolean;
}

export interface HostileProviderOptions {
  clients?: Record<string, string>;
}

const now = (): number => Math.floor(Date.now() / 1000);

export class HostileProvider {
  url = '';
  issuer = '';
  /** the default identity */
  subject = 'hostile-sub-1';
  profile: Record<string, unknown> = { email: 'alice@example.com', email_verified: true, name: 'Alice Agent', groups: ['helpdesk-agents'] };
  keys: Record<KeyAlg, SigningKey> = {} as Record<KeyAlg, SigningKey>;
  /** which key signs ID tokens by default */
  signingAlg: KeyAlg = 'RS256';
  /** the JWKS document's keys (replace or edit to swap keys) */
  jwks: JWK[] = [];
  /** the JWKS endpoint answers 503 while true (an outage at the provider) */
  jwksDown = false;
  /** merged over the correct discovery document */
  discoveryOverrides: Record<string, unknown> = {};
  /** change the authorization response (return a value of undefined to drop a parameter) */
  onAuthorize: ((params: Record<string, string>) => Record<string, string | undefined>) | null = null;
  /** forge the ID token of a token response */
  forgeIdToken: ((ctx: TokenContext) => Promise<unknown> | unknown) | null = null;
  /** replace the whole token response */
  onToken: ((ctx: TokenContext) => Promise<RawReply> | RawReply) | null = null;
  /** replace the userinfo response */
  onUserinfo: ((claims: Record<string, unknown>) => RawReply) | null = null;
  /** a real provider refuses a code_verifier that does not match; switch off to play a lax one */
  checkPkce = true;
  readonly counts = { discovery: 0, jwks: 0, authorize: 0, token: 0, userinfo: 0 };
  /** every code, state, nonce, PKCE verifier and token this provider saw or handed out (for "never logged" checks) */
  readonly issued: string[] = [];
  readonly codes = new Map<string, IssuedCode>();
  readonly clients: Record<string, string>;
  private readonly accessTokens = new Map<string, Record<string, unknown>>();
  private server: Server | null = null;

  constructor(options: HostileProviderOptions = {}) {
    this.clients = options.clients ?? { 'hostile-agent': 'hostile-agent-secret-0123456789abcdef', 'hostile-user': 'hostile-user-secret-0123456789abcdef' };
  }

  async start(): Promise<this> {
    for (const alg of ['RS256', 'ES256', 'EdDSA'] as const) this.keys[alg] = await newSigningKey(alg);
    this.jwks = Object.values(this.keys).map((k) => k.publicJwk);
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((error: unknown) => {
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
        res.end(String((error as Error).stack));
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    this.issuer = `${this.url}/`;
    return this;
  }

  /** Replace the key of `alg` with a new one under a new kid (key rotation at the provider). */
  async rotate(alg: KeyAlg = this.signingAlg): Promise<SigningKey> {
    const old = this.keys[alg];
    const fresh = await newSigningKey(alg);
    this.keys[alg] = fresh;
    this.jwks = this.jwks.filter((k) => k.kid !== old.kid).concat(fresh.publicJwk);
    return fresh;
  }

  discovery(): Record<string, unknown> {
    return {
      issuer: this.issuer,
      authorization_endpoint: `${this.url}/authorize`,
      token_endpoint: `${this.url}/token`,
      jwks_uri: `${this.url}/jwks`,
      userinfo_endpoint: `${this.url}/userinfo`,
      response_types_supported: ['code'],
      subject_types_supported: ['public'],
      id_token_signing_alg_values_supported: ['RS256', 'ES256', 'EdDSA'],
      code_challenge_methods_supported: ['S256'],
      authorization_response_iss_parameter_supported: true,
      ...this.discoveryOverrides,
    };
  }

  async sign(
    claims: Record<string, unknown>,
    opts: { alg?: KeyAlg; key?: SigningKey; header?: Record<string, unknown>; noKid?: boolean } = {},
  ): Promise<string> {
    const key = opts.key ?? this.keys[opts.alg ?? this.signingAlg];
    const header = { alg: key.alg, ...(opts.noKid ? {} : { kid: key.kid }), ...(opts.header ?? {}) } as { alg: string };
    return new SignJWT(claims).setProtectedHeader(header).sign(key.privateKey);
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      if (!this.server) return resolve();
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.url);
    const send = (reply: RawReply): void => {
      if (reply.destroy) {
        req.socket.destroy();
        return;
      }
      const body = typeof reply.body === 'string' ? reply.body : JSON.stringify(reply.body);
      res.writeHead(reply.status ?? 200, { 'content-type': reply.contentType ?? 'application/json', 'cache-control': 'no-store' });
      res.end(body);
    };
    switch (url.pathname) {
      case '/.well-known/openid-configuration':
        this.counts.discovery++;
        return send({ body: this.discovery() });
      case '/jwks':
        this.counts.jwks++;
        if (this.jwksDown) return send({ status: 503, body: '<html>maintenance</html>', contentType: 'text/html' });
        return send({ body: { keys: this.jwks }, contentType: 'application/jwk-set+json' });
      case '/authorize':
        this.counts.authorize++;
        return this.authorize(url, res);
      case '/token':
        this.counts.token++;
        return send(await this.token(req));
      case '/userinfo':
        this.counts.userinfo++;
        return send(this.userinfo(req));
      default:
        return send({ status: 404, body: { error: 'not_found' } });
    }
  }

  private authorize(url: URL, res: ServerResponse): void {
    const q = url.searchParams;
    const clientId = q.get('client_id') ?? '';
    const redirectUri = q.get('redirect_uri') ?? '';
    if (!(clientId in this.clients) || !redirectUri) {
      res.writeHead(400, { 'content-type': 'text/plain' });
      res.end('bad authorization request');
      return;
    }
    const code = randomBytes(32).toString('base64url');
    this.issued.push(code);
    this.codes.set(code, {
      code,
      clientId,
      redirectUri,
      state: q.get('state') ?? '',
      nonce: q.get('nonce') ?? undefined,
      codeChallenge: q.get('code_challenge') ?? undefined,
      used: false,
    });
    let params: Record<string, string | undefined> = { code, state: q.get('state') ?? undefined };
    if (this.discovery().authorization_response_iss_parameter_supported === true) params.iss = this.issuer;
    if (this.onAuthorize) params = this.onAuthorize(params as Record<string, string>);
    const target = new URL(redirectUri);
    for (const [k, v] of Object.entries(params)) if (v !== undefined) target.searchParams.set(k, v);
    res.writeHead(302, { location: target.href });
    res.end();
  }

  private async token(req: IncomingMessage): Promise<RawReply> {
    const form = new URLSearchParams(await readBody(req));
    let clientId = form.get('client_id') ?? '';
    let secret = form.get('client_secret') ?? '';
    const basic = /^Basic (.+)$/i.exec(req.headers.authorization ?? '');
    if (basic) {
      const pair = Buffer.from(basic[1]!, 'base64').toString('utf8');
      const colon = pair.indexOf(':');
      clientId = decodeURIComponent(pair.slice(0, colon).replace(/\+/g, ' '));
      secret = decodeURIComponent(pair.slice(colon + 1).replace(/\+/g, ' '));
    }
    if (this.clients[clientId] === undefined || this.clients[clientId] !== secret) return { status: 401, body: { error: 'invalid_client' } };
    if (form.get('grant_type') !== 'authorization_code') return { status: 400, body: { error: 'unsupported_grant_type' } };
    const grant = this.codes.get(form.get('code') ?? '');
    if (!grant || grant.used || grant.clientId !== clientId || grant.redirectUri !== form.get('redirect_uri'))
      return { status: 400, body: { error: 'invalid_grant' } };
    grant.used = true;
    this.issued.push(form.get('code_verifier') ?? '', grant.state, grant.nonce ?? '');
    if (this.checkPkce) {
      const verifier = form.get('code_verifier') ?? '';
      if (!grant.codeChallenge || createHash('sha256').update(verifier).digest('base64url') !== grant.codeChallenge)
        return { status: 400, body: { error: 'invalid_grant', error_description: 'PKCE verification failed' } };
    }
    const t = now();
    const claims: Record<string, unknown> = {
      iss: this.issuer,
      sub: this.subject,
      aud: clientId,
      iat: t,
      exp: t + 300,
      auth_time: t,
      sid: 'provider-sid-1',
      ...this.profile,
    };
    if (grant.nonce !== undefined) claims.nonce = grant.nonce;
    const ctx: TokenContext = { clientId, grant, claims, sign: (c, o) => this.sign(c, o) };
    if (this.onToken) return this.onToken(ctx);
    const idToken = this.forgeIdToken ? await this.forgeIdToken({ ...ctx, claims: { ...claims } }) : await this.sign(claims);
    const accessToken = randomBytes(32).toString('base64url');
    const refreshToken = randomBytes(32).toString('base64url');
    this.accessTokens.set(accessToken, claims);
    this.issued.push(accessToken, refreshToken);
    if (typeof idToken === 'string') this.issued.push(idToken);
    return { body: { access_token: accessToken, token_type: 'Bearer', expires_in: 300, id_token: idToken, refresh_token: refreshToken } };
  }

  private userinfo(req: IncomingMessage): RawReply {
    const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? '');
    const claims = bearer ? this.accessTokens.get(bearer[1]!) : undefined;
    if (!claims) return { status: 401, body: { error: 'invalid_token' } };
    const info = { sub: claims.sub, ...this.profile };
    return this.onUserinfo ? this.onUserinfo(info) : { body: info };
  }
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

export async function startHostileProvider(options: HostileProviderOptions = {}): Promise<HostileProvider> {
  return new HostileProvider(options).start();
}

// ---- log capture -----------------------------------------------------------------

/** The hostile tests' view of a log capture (test/helpers/stack.ts captureLogger): lines() parsed, raw as written. */
export interface LogCapture {
  logger: Logger;
  /** every line written, as text */
  raw: string[];
  /** the JSON lines, parsed */
  lines(): Array<Record<string, unknown>>;
}

export function captureLogs(level = 'info'): LogCapture {
  const capture = captureLogger(level);
  return { logger: capture.logger, raw: capture.raw, lines: () => capture.lines };
}

// ---- the stack -------------------------------------------------------------------

export const AGENT_CALLBACK = '/agent/login/authenticate-callback/1';
export const USER_CALLBACK = '/login/authenticate-callback/2';
export const SESSION_SECRET = 'hostile-session-secret-0123456789abcdefghijkl';

export function hostileYaml(opts: { publicUrl: string; issuer: string; upstream: string; port: number; secret?: string | string[] }): string {
  const secret = opts.secret ?? SESSION_SECRET;
  const secretYaml = Array.isArray(secret) ? `[${secret.map((s) => JSON.stringify(s)).join(', ')}]` : JSON.stringify(secret);
  return `public_url: ${opts.publicUrl}
listen:
  host: 127.0.0.1
  port: ${opts.port}
upstream:
  url: ${opts.upstream}
  timeout: 5s
session:
  secret: ${secretYaml}
public_paths:
  - /favicon.ico
  - /assets/**
realms:
  agent:
    paths: [/agent]
    callback_path: ${AGENT_CALLBACK}
    logout_path: /agent/logout
    provider:
      issuer: ${opts.issuer}
      client_id: hostile-agent
      client_secret: hostile-agent-secret-0123456789abcdef
  user:
    paths: [/]
    callback_path: ${USER_CALLBACK}
    logout_path: /logout
    provider:
      issuer: ${opts.issuer}
      client_id: hostile-user
      client_secret: hostile-user-secret-0123456789abcdef
limits:
  failed_callbacks_per_minute: 1000
log:
  level: info
`;
}

export interface HostileStackOptions {
  editYaml?: (yaml: string) => string;
  /** default: a capture at info */
  logs?: LogCapture;
  now?: () => number;
  /** run before the gateway starts (its discovery happens at start) */
  beforeGateway?: (provider: HostileProvider) => void | Promise<void>;
}

export interface HostileStack {
  provider: HostileProvider;
  upstream: Upstream;
  gateway: RunningGateway;
  config: GatewayConfig;
  yaml: string;
  logs: LogCapture;
  /** what browsers use (http://127.0.0.1:port) */
  publicUrl: string;
  /** parse YAML the way the stack did and swap it in */
  reload(yaml: string): Promise<void>;
  close(): Promise<void>;
}

export async function startHostileStack(options: HostileStackOptions = {}): Promise<HostileStack> {
  const logs = options.logs ?? captureLogs('info');
  const stack = await startStack({
    file: '(hostile test config)',
    provider: () => startHostileProvider(),
    upstream: () => startUpstream(),
    yaml: (publicUrl, provider, upstream) => {
      const yaml = hostileYaml({ publicUrl, issuer: provider.issuer, upstream: upstream.url, port: Number(new URL(publicUrl).port) });
      return options.editYaml ? options.editYaml(yaml) : yaml;
    },
    serve: async (listener, config, file, { provider }) => {
      await options.beforeGateway?.(provider);
      return startGateway({
        config,
        file,
        listener,
        logger: logs.logger,
        ...(options.now ? { now: options.now } : {}),
      });
    },
  });
  const gateway = stack.served;
  // the first discovery runs in the background from start; wait for it (or its failure) so tests are deterministic
  for (const realm of gateway.gw.runtime.realms.values()) await realm.provider.ensureReady().catch(() => {});
  return {
    provider: stack.provider,
    upstream: stack.upstream,
    gateway,
    config: stack.config,
    yaml: stack.yaml,
    logs,
    publicUrl: stack.publicUrl,
    async reload(next: string) {
      await gateway.reload(parseConfigText(next, '(hostile test config)', {}).config);
    },
    close: () => stack.close(),
  };
}

// ---- a browser's steps through a sign-in ------------------------------------------

export { NAVIGATION };

/** Navigate to a protected page: the gateway answers 302 to the provider's authorize endpoint. */
export async function beginSignIn(
  stack: HostileStack,
  path = '/agent/',
  jar = new CookieJar(),
): Promise<{ jar: CookieJar; authorizeUrl: string; response: FetchWithJarResult }> {
  const response = await fetchWithJar(stack.publicUrl + path, { jar, headers: { ...NAVIGATION } });
  const location = response.headers.location;
  if (response.status !== 302 || typeof location !== 'string' || !location.startsWith(stack.provider.url)) {
    throw new Error(`expected a redirect to the provider, got ${response.status} ${String(location)}: ${response.body.slice(0, 300)}`);
  }
  return { jar, authorizeUrl: location, response };
}

/** The provider's authorize step: returns the callback URL it redirects the browser to. */
export async function authorizeAt(authorizeUrl: string): Promise<string> {
  const response = await fetchWithJar(authorizeUrl);
  const location = response.headers.location;
  if (response.status !== 302 || typeof location !== 'string') throw new Error(`authorize answered ${response.status}: ${response.body.slice(0, 300)}`);
  return location;
}

/** The browser arriving at the gateway's callback. */
export function arriveAtCallback(callbackUrl: string, jar: CookieJar, headers: Record<string, string> = {}): Promise<FetchWithJarResult> {
  return fetchWithJar(callbackUrl, { jar, headers: { ...NAVIGATION, ...headers } });
}

/** The whole sign-in: page → provider → callback. Returns the callback's answer and the jar. */
export async function signInVia(
  stack: HostileStack,
  path = '/agent/',
  jar = new CookieJar(),
): Promise<{ jar: CookieJar; callbackUrl: string; callback: FetchWithJarResult }> {
  const { authorizeUrl } = await beginSignIn(stack, path, jar);
  const callbackUrl = await authorizeAt(authorizeUrl);
  const callback = await arriveAtCallback(callbackUrl, jar);
  return { jar, callbackUrl, callback };
}

/** The GH_ code of an error answer (HTML page or JSON), or undefined. */
export function errorCode(response: { body: string; headers: Record<string, string | string[]> }): string | undefined {
  const type = String(response.headers['content-type'] ?? '');
  if (type.includes('json')) {
    try {
      return (JSON.parse(response.body) as { error?: string }).error;
    } catch {
      return undefined;
    }
  }
  return /Error code: <code>(GH_[A-Z_]+)<\/code>/.exec(response.body)?.[1];
}

/** The last audit line of a failed sign-in, as the gateway logged it. */
export function lastSignInFailure(stack: HostileStack): Record<string, unknown> | undefined {
  return stack.logs
    .lines()
    .filter((l) => l.audit === 'sign-in-failed')
    .at(-1);
}

/** A request to a signed-in page as a script (never redirected): what the upstream then saw. */
export async function fetchAsScript(stack: HostileStack, path: string, jar: CookieJar, headers: Record<string, string> = {}): Promise<FetchWithJarResult> {
  return fetchWithJar(stack.publicUrl + path, { jar, headers: { accept: 'application/json', ...headers } });
}

// ---- the refusal every hostile case expects ----------------------------------------

interface Asserts {
  equal(found: unknown, wanted: unknown, message?: string): unknown;
  ok(value: unknown, message?: string): unknown;
}

/**
 * Sign in through the (misbehaving) provider and assert the gateway refused it:
 * the status and GH_ code on the page, the same code in the audit log, no
 * session afterwards, and nothing forwarded to the helpdesk.
 */
export async function expectSignInRefused(
  t: Asserts,
  stack: HostileStack,
  code: ErrorCode,
  opts: { path?: string; label?: string } = {},
): Promise<FetchWithJarResult> {
  const label = opts.label ? `${opts.label}: ` : '';
  const path = opts.path ?? '/agent/';
  const forwarded = stack.upstream.requests.length;
  const { jar, callback } = await signInVia(stack, path);
  t.equal(callback.status, ERROR_CODES[code].status, `${label}answered ${ERROR_CODES[code].status}`);
  t.equal(errorCode(callback), code, `${label}the page names ${code}`);
  t.equal(lastSignInFailure(stack)?.reason, code, `${label}the audit log names ${code}`);
  const after = await fetchAsScript(stack, path, jar);
  t.equal(after.status, 401, `${label}no session was started`);
  t.equal(stack.upstream.requests.length, forwarded, `${label}nothing reached the helpdesk`);
  return callback;
}

// ---- raw sockets -----------------------------------------------------------------

/**
 * Send bytes exactly as given (undici would normalize names, refuse bad framing)
 * and collect the answer until the peer closes, or only the response head when
 * `untilHead` (an upgrade stays open). Times out after `timeoutMs`, resolving what arrived.
 */
export function rawRequest(
  url: string,
  bytes: string | Buffer,
  opts: { untilHead?: boolean; timeoutMs?: number; localAddress?: string } = {},
): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect({ port: Number(port), host: hostname, ...(opts.localAddress ? { localAddress: opts.localAddress } : {}) });
    let data = '';
    const done = (): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(data);
    };
    const timer = setTimeout(done, opts.timeoutMs ?? 5000);
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      data += chunk;
      if (opts.untilHead && data.includes('\r\n\r\n')) done();
    });
    socket.on('end', done);
    socket.on('close', done);
    socket.on('error', (error) => {
      clearTimeout(timer);
      if (data) resolve(data);
      else reject(error);
    });
    socket.write(bytes);
  });
}
