/**
 * What the gateway decides about a request, whichever way it acts on it: the
 * proxy mode (front.ts) forwards what this allows, forward-auth
 * (flows/forward-auth.ts) only says so to the proxy that forwards. One code
 * path for both: size limits, HTTPS, the reserved prefix and paths, path
 * normalization and the ambiguous-path refusals, the host, public paths, the
 * realm, the session check (cache first), and what someone not signed in is
 * told. A decision reads only the request's head (RequestHead): forward-auth
 * has the original request's method, target and headers, never the request
 * itself.
 */
import type { IncomingMessage } from 'node:http';
import type { Gateway } from '../gateway.js';
import type { RealmRuntime } from '../runtime.js';
import { isGatehouseError, GatehouseError, type ErrorCode } from '../errors.js';
import type { ClientView } from './client-address.js';
import { hasFragment, hasPathParameters, normalizePath, withoutPathParameters } from '../routing/realm.js';
import { authenticate, authenticateFromCache, RenewalUnavailableError, type AuthResult } from '../flows/authenticate.js';
import type { CookieJar } from './cookies.js';
import { errorAnswer, isNavigation, jsonAnswer, type Answer, type RequestHead } from './respond.js';
import { startLogin } from '../flows/signin.js';
import { answerSignedOutFormPost, isBrowserFormPost } from '../flows/preserve-post.js';
import { signInPageAnswer, signInUnavailableAnswer } from '../flows/sign-in-answers.js';
import { postLogoutLanding } from '../flows/logout.js';
import { warnMisdirected, warnUntrustedTerminator } from '../observe/proxy-hint.js';
import { isPublicHost, publicHost } from './host.js';
import { loginUrl } from '../routing/return-to.js';

/** answered over plain http too (see route) */
const PROBE_PATHS = new Set(['/.gatehouse/healthz', '/.gatehouse/readyz', '/.gatehouse/metrics']);

export function isReservedPrefix(rawPath: string): boolean {
  return rawPath.length >= 12 && rawPath.charCodeAt(1) === 46 /* . */ && rawPath.slice(0, 12).toLowerCase() === '/.gatehouse/';
}

export function corsOriginOf(gw: Gateway, req: RequestHead): string | null {
  const origin = req.headers.origin;
  return origin !== undefined && gw.runtime.corsOrigins.has(origin) ? origin : null;
}

/**
 * Where a script's 401 should bring the person back to after sign-in: the page
 * that made the call (its same-origin Referer, in the same realm), not the API
 * URL itself, whose JSON is no place to land a person. null: use the request path.
 */
function pageOfScript(gw: Gateway, req: RequestHead, realm: RealmRuntime): string | null {
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

/** Where sign-in starts for a request that is not signed in, coming back to `returnTo` or, for a script, to its page. */
export function loginUrlFor(gw: Gateway, req: RequestHead, realm: RealmRuntime, returnTo: string): string {
  return loginUrl(realm, isNavigation(req) ? returnTo : (pageOfScript(gw, req, realm) ?? returnTo));
}

/** A request that is not signed in, with what every answer to it needs. */
export interface SignedOutRequest {
  gw: Gateway;
  req: RequestHead;
  realm: RealmRuntime;
  /** where sign-in brings the person back to */
  returnTo: string;
  cookies: CookieJar;
  requestId: string;
  /** Set-Cookie lines that clear a session that ended, or null */
  clearCookies: string[] | null;
}

/**
 * Not signed in: where a person is sent, or what a script is told. An answer,
 * or a promise of one only where something must be awaited (discovery not
 * done or due, a form body to keep): an unauthenticated flood is mostly
 * answered without one. `formBody`: the request whose form may be kept across
 * the sign-in (preserve-post.ts), or null where the gateway never sees the body.
 * `origin`: prefixed to the login URL the answer names ('' keeps it relative).
 */
export function answerSignedOut(signedOut: SignedOutRequest, formBody: IncomingMessage | null, origin = ''): Answer | Promise<Answer> {
  const { gw, req, realm, returnTo, cookies, requestId, clearCookies } = signedOut;
  if (isNavigation(req)) {
    // back from the provider's end_session_endpoint (logout.ts): "you are signed out", not a new sign-in
    const landing = postLogoutLanding(gw, req, realm, returnTo, cookies);
    if (landing !== null) return landing;
    if (realm.login === 'automatic') {
      gw.metrics.request(realm.name, 'redirected');
      return startLogin(gw, realm, returnTo, cookies, clearCookies ?? []);
    }
    gw.metrics.request(realm.name, 'unauthenticated');
    return signInPageAnswer(signedOut);
  }
  gw.metrics.request(realm.name, 'unauthenticated');
  // a same-origin browser form POST: keep what was typed across the sign-in (preserve-post.ts)
  if (formBody !== null && isBrowserFormPost(formBody)) {
    return answerSignedOutFormPost(gw, formBody, realm, returnTo, requestId, clearCookies).then((formAnswer) => formAnswer ?? notSignedIn(signedOut, origin));
  }
  return notSignedIn(signedOut, origin);
}

/** The 401 a script acts on: where to sign in, in a header and in the JSON. */
export function notSignedIn(signedOut: SignedOutRequest, origin = ''): Answer {
  const { gw, req, realm, returnTo, requestId, clearCookies } = signedOut;
  const login = origin + loginUrlFor(gw, req, realm, returnTo);
  const headers: Record<string, string | string[]> = {
    'www-authenticate': `Gatehouse realm="${realm.name}", login_url="${login}"`,
    'x-gatehouse-login': login,
    'x-request-id': requestId,
  };
  if (clearCookies) headers['set-cookie'] = clearCookies;
  const cors = corsOriginOf(gw, req);
  if (cors)
    Object.assign(headers, {
      'access-control-allow-origin': cors,
      'access-control-allow-credentials': 'true',
      'access-control-expose-headers': 'X-Gatehouse-Login, X-Request-Id',
      vary: 'Origin',
    });
  return jsonAnswer(401, { error: 'GH_NOT_SIGNED_IN', message: 'Sign-in required.', realm: realm.name, login_url: login, request_id: requestId }, headers);
}

/** What the request line (and the host) decide. */
export type Routed =
  /** the gateway's own endpoint (/.gatehouse/*, a callback or logout path): Fastify answers it */
  | { kind: 'handoff' }
  /** refused or redirected; `code` is the refusal's, for answers that must say it elsewhere (an upgrade, forward-auth) */
  | { kind: 'answer'; answer: Answer; code: ErrorCode | null }
  /** a public path: forwarded anonymously */
  | { kind: 'public'; path: string }
  /** a realm's path: the session decides */
  | { kind: 'realm'; path: string; realm: RealmRuntime };

function refused(req: RequestHead, gw: Gateway, code: ErrorCode, requestId: string): Routed {
  return { kind: 'answer', answer: errorAnswer(req, gw.runtime.theme, code, requestId), code };
}

const PUBLIC = 'public';

/** Where the gateway sends a normalized path: public, a realm, or nowhere (null). */
function placeOf(gw: Gateway, path: string): RealmRuntime | typeof PUBLIC | null {
  const runtime = gw.runtime;
  if (runtime.publicPaths?.test(path)) return PUBLIC;
  return runtime.realmTable.match(path);
}

/** Everything that can be decided from the request line alone (and the host it names). */
export function route(gw: Gateway, req: RequestHead, client: ClientView, requestId: string): Routed {
  const runtime = gw.runtime;
  const url = req.url ?? '/';
  if (url.length > runtime.limits.maxUrlBytes) return refused(req, gw, 'GH_URL_TOO_LONG', requestId);
  // the realm must be chosen from the path the helpdesk will parse: see realm.ts and SECURITY.md
  if (hasFragment(url)) return refused(req, gw, 'GH_AMBIGUOUS_PATH', requestId);
  if (runtime.httpsOnly && client.proto !== 'https') {
    // the helpdesk's SSO only works over HTTPS: never serve or sign in over plain http (308 keeps the method).
    // Probes and scrapers talk plain http to this instance itself and carry no session: they get their answer,
    // not a redirect to the load balancer (which would report on another instance).
    if (req.method === 'GET' && PROBE_PATHS.has(url)) return { kind: 'handoff' };
    if (!client.trusted) warnUntrustedTerminator(gw, gw.log, client.peer, req.headers['x-forwarded-proto']);
    return {
      kind: 'answer',
      answer: { status: 308, headers: { location: runtime.publicOrigin + (url.startsWith('/') ? url : '/'), 'cache-control': 'no-store' }, body: '' },
      code: 'GH_HTTPS_REQUIRED',
    };
  }
  const q = url.indexOf('?');
  const rawPath = q < 0 ? url : url.slice(0, q);
  if (isReservedPrefix(rawPath)) return { kind: 'handoff' };
  const path = normalizePath(rawPath);
  if (path === null) return refused(req, gw, 'GH_BAD_PATH', requestId);
  // the reserved prefix spelled another way (/%2Egatehouse/, //.gatehouse/, /x/../.gatehouse/) is never forwarded
  if (path.charCodeAt(1) === 46 /* . */ && (isReservedPrefix(path) || path.toLowerCase() === '/.gatehouse')) return refused(req, gw, 'GH_NOT_FOUND', requestId);
  if (runtime.reserved.has(path)) return { kind: 'handoff' };
  // a helpdesk that cuts ";parameters" from segments must read the same realm (or public path) out of it
  if (hasPathParameters(path) && placeOf(gw, withoutPathParameters(path)) !== placeOf(gw, path)) return refused(req, gw, 'GH_AMBIGUOUS_PATH', requestId);
  const full = q < 0 ? path : path + url.slice(q);
  // what the helpdesk is given as its host is public_url's: a request naming another one is not forwarded
  if (!isPublicHost(runtime, client.host)) {
    warnMisdirected(gw, gw.log, client.peer, client.host, publicHost(runtime));
    return refused(req, gw, 'GH_MISDIRECTED_REQUEST', requestId);
  }
  if (runtime.publicPaths?.test(path)) return { kind: 'public', path: full };
  const realm = runtime.realmTable.match(path);
  if (!realm) return refused(req, gw, 'GH_NOT_FOUND', requestId);
  return { kind: 'realm', path: full, realm };
}

/**
 * A WebSocket handshake the gateway will not let through, whatever the
 * session: upgrades switched off, another protocol than WebSocket (after an
 * h2c upgrade the connection would carry requests no one judges), or a page of
 * another origin (cross-site WebSocket hijacking). null: on to the session.
 * (The proxy mode sees only requests with an Upgrade header here.)
 */
export function upgradeRefusal(gw: Gateway, req: RequestHead): { status: number; code: ErrorCode } | null {
  const runtime = gw.runtime;
  if (!runtime.upstream.websockets) return { status: 400, code: 'GH_BAD_REQUEST' };
  // (no Upgrade at all: forward-auth asked by a proxy that keeps it to itself; the handshake is WebSocket's by its key)
  if (req.headers.upgrade !== undefined && String(req.headers.upgrade).trim().toLowerCase() !== 'websocket') return { status: 400, code: 'GH_BAD_REQUEST' };
  const origin = req.headers.origin;
  if (origin !== undefined && origin !== runtime.publicOrigin && !runtime.corsOrigins.has(origin)) return { status: 403, code: 'GH_CSRF' };
  return null;
}

/** The session check's outcome, or the answer for a check that failed (a session store outage: 503). */
async function authenticateOrAnswer(gw: Gateway, req: RequestHead, realm: RealmRuntime, cookies: CookieJar, requestId: string): Promise<AuthResult | Answer> {
  try {
    return await authenticate(gw, realm, cookies);
  } catch (error) {
    const { gh, setCookies } = sessionCheckFailed(gw, error, requestId, realm);
    return errorAnswer(req, gw.runtime.theme, gh, requestId, setCookies ? { headers: { 'set-cookie': setCookies } } : {});
  }
}

/** A session check that could not decide (store down, renewal pending, a bug): counted, logged, and the refusal to give. */
export function sessionCheckFailed(gw: Gateway, error: unknown, requestId: string, realm: RealmRuntime): { gh: GatehouseError; setCookies: string[] | null } {
  const gh = isGatehouseError(error) ? error : new GatehouseError('GH_INTERNAL', (error as Error).message, { cause: error });
  if (gh.code === 'GH_SESSION_STORE_UNAVAILABLE') gw.metrics.storeError(gw.store.kind);
  gw.log.error({ code: gh.code, detail: gh.detail, requestId, realm: realm.name }, 'session check failed');
  // a refreshed session that may not be used yet still goes back to the browser (its refresh token is the new one)
  return { gh, setCookies: error instanceof RenewalUnavailableError ? error.setCookies : null };
}

/**
 * Is this request signed in to its realm? From the session cache without a
 * promise where nothing is due (the common signed-in request), else the full
 * check (authenticate.ts: open, judge, refresh, touch).
 */
export function checkSession(
  gw: Gateway,
  req: RequestHead,
  realm: RealmRuntime,
  cookies: CookieJar,
  requestId: string,
): AuthResult | Promise<AuthResult | Answer> {
  return authenticateFromCache(gw, realm, cookies) ?? authenticateOrAnswer(gw, req, realm, cookies, requestId);
}

/** A session check's outcome was an answer of its own (the check failed). */
export function isAnswer(outcome: AuthResult | Answer): outcome is Answer {
  return 'status' in outcome;
}

/** Sign-in could not start (the provider is unreachable, or a bug): logged, and what the person is shown. */
export function signInFailureAnswer(gw: Gateway, req: RequestHead, realm: RealmRuntime, returnTo: string, requestId: string, error: unknown): Answer {
  const gh = isGatehouseError(error) ? error : new GatehouseError('GH_INTERNAL', (error as Error).message, { cause: error });
  gw.log.warn({ code: gh.code, detail: gh.detail, requestId, realm: realm.name }, 'cannot start sign-in');
  return gh.code.startsWith('GH_DISCOVERY')
    ? signInUnavailableAnswer(gw, req, realm, gh, returnTo, requestId)
    : errorAnswer(req, gw.runtime.theme, gh, requestId);
}
