/**
 * The request path, in the order a request meets it: size limits, HTTPS, the
 * reserved /.gatehouse/ prefix and callback/logout paths (handed to Fastify),
 * path normalization, public paths, the realm, the session, and then forward —
 * or refuse: redirect to the provider / sign-in page for a browser navigation,
 * 401 JSON for everything else, 403 for a session the allow rules refuse.
 * Signed-in traffic never touches the framework: this is the hot path.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Gateway } from '../gateway.js';
import type { RealmRuntime } from '../runtime.js';
import { isGatehouseError, GatehouseError, type ErrorCode } from '../errors.js';
import { clientView, type ClientView } from './client-address.js';
import { hasFragment, hasPathParameters, normalizePath, withoutPathParameters } from '../routing/realm.js';
import { authenticate, authenticateFromCache, RenewalUnavailableError, type AuthResult } from '../flows/authenticate.js';
import { readCookies, type CookieJar } from './cookies.js';
import { forward, forwardUpgrade, refuseUpgrade } from '../proxy/forward.js';
import { errorAnswer, isNavigation, jsonAnswer, writeAnswer, type Answer } from './respond.js';
import { startLogin } from '../flows/signin.js';
import { answerSignedOutFormPost, isBrowserFormPost } from '../flows/preserve-post.js';
import { refusalAnswer, signInPageAnswer, signInUnavailableAnswer } from '../flows/sign-in-answers.js';
import { postLogoutLanding } from '../flows/logout.js';
import { warnMisdirected, warnUntrustedTerminator } from '../observe/proxy-hint.js';
import { isPublicHost, publicHost } from './host.js';
import { loginUrl } from '../routing/return-to.js';
import { taggedRequestId } from './request-id.js';

/** answered over plain http too (see route) */
const PROBE_PATHS = new Set(['/.gatehouse/healthz', '/.gatehouse/readyz', '/.gatehouse/metrics']);

function isReservedPrefix(rawPath: string): boolean {
  return rawPath.length >= 12 && rawPath.charCodeAt(1) === 46 /* . */ && rawPath.slice(0, 12).toLowerCase() === '/.gatehouse/';
}

function corsOriginOf(gw: Gateway, req: IncomingMessage): string | null {
  const origin = req.headers.origin;
  return origin !== undefined && gw.runtime.corsOrigins.has(origin) ? origin : null;
}

/**
 * Where a script's 401 should bring the person back to after sign-in: the page
 * that made the call (its same-origin Referer, in the same realm), not the API
 * URL itself, whose JSON is no place to land a person. null: use the request path.
 */
function pageOfScript(gw: Gateway, req: IncomingMessage, realm: RealmRuntime): string | null {
  const referer = req.headers.referer;
  const origin = gw.runtime.publicOrigin;
  if (typeof referer !== 'string' || !referer.startsWith(`${origin}/`)) return null;
  let url: URL;
  try {
    url = new URL(referer);
  } catch {
    return null;
  }
  const path = url.origin === origin ? normalizePath(url.pathname) : null;
  if (path === null || gw.runtime.reserved.has(path) || gw.runtime.realmTable.match(path)?.name !== realm.name) return null;
  return path + url.search;
}

/**
 * Not signed in: where a person is sent, or what a script is told. An answer,
 * or a promise of one only where something must be awaited (discovery not
 * done or due, a form body to keep): an unauthenticated flood is mostly
 * answered without one.
 */
export function answerSignedOut(gw: Gateway, req: IncomingMessage, realm: RealmRuntime, returnTo: string, cookies: CookieJar, requestId: string, clearCookies: string[] | null): Answer | Promise<Answer> {
  if (isNavigation(req)) {
    // back from the provider's end_session_endpoint (logout.ts): "you are signed out", not a new sign-in
    const landing = postLogoutLanding(gw, req, realm, returnTo, cookies);
    if (landing !== null) return landing;
    if (realm.login === 'automatic') {
      gw.metrics.request(realm.name, 'redirected');
      return startLogin(gw, realm, returnTo, cookies, clearCookies ?? []);
    }
    gw.metrics.request(realm.name, 'unauthenticated');
    return signInPageAnswer(gw, req, realm, returnTo, requestId, clearCookies);
  }
  gw.metrics.request(realm.name, 'unauthenticated');
  // a same-origin browser form POST: keep what was typed across the sign-in (preserve-post.ts)
  if (isBrowserFormPost(req)) {
    return answerSignedOutFormPost(gw, req, realm, returnTo, requestId, clearCookies).then((formAnswer) => formAnswer ?? notSignedIn(gw, req, realm, returnTo, requestId, clearCookies));
  }
  return notSignedIn(gw, req, realm, returnTo, requestId, clearCookies);
}

/** The 401 a script acts on: where to sign in, in a header and in the JSON. */
function notSignedIn(gw: Gateway, req: IncomingMessage, realm: RealmRuntime, returnTo: string, requestId: string, clearCookies: string[] | null): Answer {
  const login = loginUrl(realm, pageOfScript(gw, req, realm) ?? returnTo);
  const headers: Record<string, string | string[]> = {
    'www-authenticate': `Gatehouse realm="${realm.name}", login_url="${login}"`,
    'x-gatehouse-login': login,
    'x-request-id': requestId,
  };
  if (clearCookies) headers['set-cookie'] = clearCookies;
  const cors = corsOriginOf(gw, req);
  if (cors) Object.assign(headers, { 'access-control-allow-origin': cors, 'access-control-allow-credentials': 'true', 'access-control-expose-headers': 'X-Gatehouse-Login, X-Request-Id', vary: 'Origin' });
  return jsonAnswer(401, { error: 'GH_NOT_SIGNED_IN', message: 'Sign-in required.', realm: realm.name, login_url: login, request_id: requestId }, headers);
}

interface Routed {
  kind: 'forward-public' | 'realm' | 'handoff' | 'answer';
  path?: string;
  realm?: RealmRuntime;
  answer?: Answer;
  /** the refusal's code, where an upgrade must say it too */
  code?: ErrorCode;
}

function ambiguous(req: IncomingMessage, gw: Gateway, requestId: string): Routed {
  return { kind: 'answer', answer: errorAnswer(req, gw.runtime.theme, 'GH_AMBIGUOUS_PATH', requestId), code: 'GH_AMBIGUOUS_PATH' };
}

const PUBLIC = 'public';

/** Where the gateway sends a normalized path: public, a realm, or nowhere (null). */
function placeOf(gw: Gateway, path: string): RealmRuntime | typeof PUBLIC | null {
  const runtime = gw.runtime;
  if (runtime.publicPaths?.test(path)) return PUBLIC;
  return runtime.realmTable.match(path);
}

/** Everything that can be decided from the request line alone. */
function route(gw: Gateway, req: IncomingMessage, client: ClientView, requestId: string): Routed {
  const runtime = gw.runtime;
  const url = req.url ?? '/';
  if (url.length > runtime.limits.maxUrlBytes) return { kind: 'answer', answer: errorAnswer(req, runtime.theme, 'GH_URL_TOO_LONG', requestId) };
  // the realm must be chosen from the path the helpdesk will parse: see realm.ts and SECURITY.md
  if (hasFragment(url)) return ambiguous(req, gw, requestId);
  if (runtime.httpsOnly && client.proto !== 'https') {
    // the helpdesk's SSO only works over HTTPS: never serve or sign in over plain http (308 keeps the method).
    // Probes and scrapers talk plain http to this instance itself and carry no session: they get their answer,
    // not a redirect to the load balancer (which would report on another instance).
    if (req.method === 'GET' && PROBE_PATHS.has(url)) return { kind: 'handoff' };
    if (!client.trusted) warnUntrustedTerminator(gw, gw.log, client.peer, req.headers['x-forwarded-proto']);
    return { kind: 'answer', answer: { status: 308, headers: { location: runtime.publicOrigin + (url.startsWith('/') ? url : '/'), 'cache-control': 'no-store' }, body: '' } };
  }
  const q = url.indexOf('?');
  const rawPath = q < 0 ? url : url.slice(0, q);
  if (isReservedPrefix(rawPath)) return { kind: 'handoff' };
  const path = normalizePath(rawPath);
  if (path === null) return { kind: 'answer', answer: errorAnswer(req, runtime.theme, 'GH_BAD_PATH', requestId) };
  // the reserved prefix spelled another way (/%2Egatehouse/, //.gatehouse/, /x/../.gatehouse/) is never forwarded
  if (path.charCodeAt(1) === 46 /* . */ && (isReservedPrefix(path) || path.toLowerCase() === '/.gatehouse')) {
    return { kind: 'answer', answer: errorAnswer(req, runtime.theme, 'GH_NOT_FOUND', requestId) };
  }
  if (runtime.reserved.has(path)) return { kind: 'handoff' };
  // a helpdesk that cuts ";parameters" from segments must read the same realm (or public path) out of it
  if (hasPathParameters(path) && placeOf(gw, withoutPathParameters(path)) !== placeOf(gw, path)) return ambiguous(req, gw, requestId);
  const full = q < 0 ? path : path + url.slice(q);
  // what the helpdesk is given as its host is public_url's: a request naming another one is not forwarded
  if (!isPublicHost(runtime, client.host)) {
    warnMisdirected(gw, gw.log, client.peer, client.host, publicHost(runtime));
    return { kind: 'answer', answer: errorAnswer(req, runtime.theme, 'GH_MISDIRECTED_REQUEST', requestId), code: 'GH_MISDIRECTED_REQUEST' };
  }
  if (runtime.publicPaths?.test(path)) return { kind: 'forward-public', path: full };
  const realm = runtime.realmTable.match(path);
  if (!realm) return { kind: 'answer', answer: errorAnswer(req, runtime.theme, 'GH_NOT_FOUND', requestId) };
  return { kind: 'realm', path: full, realm };
}

async function authenticateOrAnswer(gw: Gateway, req: IncomingMessage, realm: RealmRuntime, cookies: CookieJar, requestId: string): Promise<AuthResult | Answer> {
  try {
    return await authenticate(gw, realm, cookies);
  } catch (error) {
    const gh = isGatehouseError(error) ? error : new GatehouseError('GH_INTERNAL', (error as Error).message, { cause: error });
    if (gh.code === 'GH_SESSION_STORE_UNAVAILABLE') gw.metrics.storeError(gw.store.kind);
    gw.log.error({ code: gh.code, detail: gh.detail, requestId, realm: realm.name }, 'session check failed');
    // a refreshed session that may not be used yet still goes back to the browser (its refresh token is the new one)
    return errorAnswer(req, gw.runtime.theme, gh, requestId, error instanceof RenewalUnavailableError && error.setCookies ? { headers: { 'set-cookie': error.setCookies } } : {});
  }
}

/**
 * Route, authenticate and answer one request. Returns a promise only when
 * something had to be awaited (a session not in the cache, discovery, a form
 * body): the signed-in and the common refused requests finish without one.
 */
export function handleRequest(gw: Gateway, req: IncomingMessage, res: ServerResponse, handOff: (req: IncomingMessage, res: ServerResponse) => void): Promise<void> | undefined {
  const requestId = taggedRequestId(req);
  const client = clientView(req, gw.runtime.trustedProxies);
  const routed = route(gw, req, client, requestId);
  switch (routed.kind) {
    case 'handoff':
      handOff(req, res);
      return undefined;
    case 'answer':
      writeAnswer(res, routed.answer!);
      return undefined;
    case 'forward-public':
      gw.metrics.request('-', 'public');
      forward(gw, req, res, { path: routed.path!, entry: null, client, requestId, setCookies: null, corsOrigin: corsOriginOf(gw, req) });
      return undefined;
    case 'realm':
      break;
  }
  const realm = routed.realm!;
  const cors = corsOriginOf(gw, req);
  if (req.method === 'OPTIONS' && cors && req.headers['access-control-request-method']) {
    // CORS preflight carries no cookies: answered here, never forwarded or refused
    writeAnswer(res, { status: 204, headers: { 'access-control-allow-origin': cors, 'access-control-allow-credentials': 'true', 'access-control-allow-methods': 'GET, POST, PUT, PATCH, DELETE, OPTIONS', 'access-control-allow-headers': String(req.headers['access-control-request-headers'] ?? '').slice(0, 1024), 'access-control-max-age': '600', vary: 'Origin' }, body: '' });
    return undefined;
  }
  const request: RealmRequest = { req, res, realm, path: routed.path!, cookies: readCookies(req.headers), client, requestId, cors };
  // a session seen before and nothing due: no promise on the way to the helpdesk
  const cached = authenticateFromCache(gw, realm, request.cookies);
  if (cached !== null) return answerAuthenticated(gw, request, cached);
  return authenticateThenAnswer(gw, request);
}

/** A request in a realm, as far as it has been judged. */
interface RealmRequest {
  req: IncomingMessage;
  res: ServerResponse;
  realm: RealmRuntime;
  /** normalized path and the original query */
  path: string;
  cookies: CookieJar;
  client: ClientView;
  requestId: string;
  cors: string | null;
}

async function authenticateThenAnswer(gw: Gateway, r: RealmRequest): Promise<void> {
  const auth = await authenticateOrAnswer(gw, r.req, r.realm, r.cookies, r.requestId);
  if ('status' in auth) {
    writeAnswer(r.res, auth);
    return;
  }
  await answerAuthenticated(gw, r, auth);
}

/** Forward, refuse, or send to sign in, as the session check decided. */
function answerAuthenticated(gw: Gateway, r: RealmRequest, auth: AuthResult): Promise<void> | undefined {
  const { req, res, realm, requestId } = r;
  if (auth.kind === 'signed-in') {
    gw.metrics.request(realm.name, 'forwarded');
    forward(gw, req, res, { path: r.path, entry: auth.entry, client: r.client, requestId, setCookies: auth.setCookies, corsOrigin: r.cors });
    return undefined;
  }
  if (auth.kind === 'forbidden') {
    gw.metrics.request(realm.name, 'forbidden');
    gw.log.info({ audit: 'refusal', realm: realm.name, sub: auth.entry.session.sub, reason: auth.code, ip: r.client.ip, requestId }, 'request refused by allow rules');
    writeAnswer(res, refusalAnswer(gw, req, realm, auth.code, requestId, auth.entry.session, r.path));
    return undefined;
  }
  const cannotSignIn = (error: unknown): void => {
    const gh = isGatehouseError(error) ? error : new GatehouseError('GH_INTERNAL', (error as Error).message, { cause: error });
    gw.log.warn({ code: gh.code, detail: gh.detail, requestId, realm: realm.name }, 'cannot start sign-in');
    writeAnswer(res, gh.code.startsWith('GH_DISCOVERY') ? signInUnavailableAnswer(gw, req, realm, gh, r.path, requestId) : errorAnswer(req, gw.runtime.theme, gh, requestId));
  };
  let answer: Answer | Promise<Answer>;
  try {
    answer = answerSignedOut(gw, req, realm, r.path, r.cookies, requestId, auth.clearCookies);
  } catch (error) {
    cannotSignIn(error);
    return undefined;
  }
  if (!(answer instanceof Promise)) {
    writeAnswer(res, answer);
    return undefined;
  }
  return answer.then((a) => writeAnswer(res, a), cannotSignIn);
}

/** Content-Length other than 0, or any Transfer-Encoding (an upgrade request has no body). */
function announcesBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

/** WebSocket upgrades: the same decisions, answered on the raw socket. */
export async function handleUpgrade(gw: Gateway, req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
  const runtime = gw.runtime;
  const requestId = taggedRequestId(req);
  socket.on('error', () => socket.destroy());
  if (!runtime.upstream.websockets) return refuseUpgrade(socket, 400, 'GH_BAD_REQUEST', requestId);
  // WebSockets only: after another upgrade (h2c) the connection would carry requests the gateway never judges
  if (String(req.headers.upgrade).trim().toLowerCase() !== 'websocket') return refuseUpgrade(socket, 400, 'GH_BAD_REQUEST', requestId);
  // a body the upgrade announces would be left for the helpdesk to read out of whatever came next
  if (announcesBody(req)) return refuseUpgrade(socket, 400, 'GH_BAD_REQUEST', requestId);
  const client = clientView(req, runtime.trustedProxies);
  const routed = route(gw, req, client, requestId);
  if (routed.kind === 'handoff') return refuseUpgrade(socket, 400, 'GH_BAD_REQUEST', requestId);
  if (routed.kind === 'answer') return refuseUpgrade(socket, routed.answer!.status === 308 ? 400 : routed.answer!.status, routed.code ?? 'GH_BAD_REQUEST', requestId);
  // Cross-site WebSocket hijacking: a handshake from a page of another origin is refused
  const origin = req.headers.origin;
  if (origin !== undefined && origin !== runtime.publicOrigin && !runtime.corsOrigins.has(origin)) return refuseUpgrade(socket, 403, 'GH_CSRF', requestId);
  if (routed.kind === 'forward-public') {
    return forwardUpgrade(gw, req, socket, head, { path: routed.path!, entry: null, client, requestId, setCookies: null, corsOrigin: null });
  }
  const realm = routed.realm!;
  let auth: AuthResult;
  try {
    auth = await authenticate(gw, realm, readCookies(req.headers));
  } catch {
    return refuseUpgrade(socket, 503, 'GH_SESSION_STORE_UNAVAILABLE', requestId);
  }
  if (auth.kind === 'signed-out') return refuseUpgrade(socket, 401, 'GH_NOT_SIGNED_IN', requestId);
  if (auth.kind === 'forbidden') return refuseUpgrade(socket, 403, auth.code, requestId);
  gw.metrics.request(realm.name, 'forwarded');
  forwardUpgrade(gw, req, socket, head, { path: routed.path!, entry: auth.entry, client, requestId, setCookies: auth.setCookies, corsOrigin: null });
}
