/**
 * Forward-auth (CONTRACT.md "Forward-auth"): a proxy that already stands in
 * front of the helpdesk (nginx auth_request, Caddy forward_auth, Traefik
 * ForwardAuth) forwards, Gatehouse only judges. `/.gatehouse/auth` reads the
 * original request out of the proxy's headers and decides it with the very
 * decisions of the proxy mode (edge/decide.ts: normalization, ambiguous paths,
 * host, public paths, realm, session check with refresh, allow rules), then
 * answers the proxy instead of forwarding:
 *
 *   allowed          200, empty, every identity header (empty where none) and the assertion
 *   public path      200, every identity header empty
 *   not signed in    nginx (X-Original-URI): 401 with X-Gatehouse-Login, and for a browser
 *                    navigation X-Gatehouse-Redirect (where nginx's error_page sends it);
 *                    others: what the proxy mode answers (302, sign-in page as 401, 401 JSON),
 *                    which the proxy copies to the browser
 *   allow refusal    403
 *   other refusals   as the proxy mode answers them; for nginx, which turns every status but
 *                    2xx, 401 and 403 into a 500, as 403 with X-Gatehouse-Error (5xx stay 5xx)
 *
 * The original request is believed only from trusted_proxies: from any other
 * peer the endpoint is refused before anything is read. The proxy names it
 * exactly once, in one dialect: a request carrying the other dialect's headers
 * too (a client's own X-Forwarded-Uri passed on by nginx, its X-Original-URI
 * passed on by Caddy) or one of them twice is refused, never decided by the
 * one the client chose. Nothing about the original request's body is known
 * here: the proxy sends the body to the helpdesk, so a form sent after the
 * session ended cannot be kept across the sign-in (preserve-post.ts); the
 * person is sent to sign in and back to the form's page instead.
 *
 * Every answer is Cache-Control: no-store: it is about one person's cookie, and
 * a cache that kept it by URL alone would hand one person's identity (or a
 * sign-in attempt's state) to others.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Gateway } from '../gateway.js';
import type { RealmRuntime } from '../runtime.js';
import type { ErrorCode } from '../errors.js';
import { clientView } from '../edge/client-address.js';
import { readCookies, type CookieJar } from '../edge/cookies.js';
import { errorAnswer, isNavigation, writeAnswer, type Answer, type RequestHead } from '../edge/respond.js';
import { taggedRequestId } from '../edge/request-id.js';
import { answerSignedOut, checkSession, isAnswer, notSignedIn, route, signInFailureAnswer, upgradeRefusal, type SignedOutRequest } from '../edge/decide.js';
import { refusalAnswer } from './sign-in-answers.js';
import { fromThisSite, postLogoutLanding } from './logout.js';
import { isBrowserFormPost, recoveryReturnTo } from './preserve-post.js';
import { loginUrl } from '../routing/return-to.js';
import type { AuthResult } from './authenticate.js';
import { warnUntrustedAsker } from '../observe/proxy-hint.js';

export const FORWARD_AUTH_PATH = '/.gatehouse/auth';

/** nginx auth_request names the original as X-Original-*, Caddy and Traefik as X-Forwarded-*. */
type Dialect = 'nginx' | 'forwarded';

const ORIGINAL_HEADERS = ['x-original-uri', 'x-original-method', 'x-forwarded-uri', 'x-forwarded-method'] as const;
type OriginalHeader = (typeof ORIGINAL_HEADERS)[number];

/** RFC 9110 token */
const METHOD = /^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,32}$/;

interface Original {
  dialect: Dialect;
  /** the original request's method and target; its headers are the subrequest's own (the browser's, as the proxy passes them on) */
  head: RequestHead;
}

/** The original request the proxy names, or why it cannot be told (for the log). */
function originalRequest(req: IncomingMessage): Original | { problem: string } {
  const seen: Partial<Record<OriginalHeader, string>> = {};
  const raw = req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase() as OriginalHeader;
    if (!ORIGINAL_HEADERS.includes(name)) continue;
    if (seen[name] !== undefined) return { problem: `${name} is sent more than once` };
    seen[name] = raw[i + 1]!;
  }
  const nginx = seen['x-original-uri'] !== undefined || seen['x-original-method'] !== undefined;
  const forwarded = seen['x-forwarded-uri'] !== undefined || seen['x-forwarded-method'] !== undefined;
  if (nginx && forwarded) return { problem: 'both X-Original-URI/-Method and X-Forwarded-Uri/-Method are sent: the proxy must remove the one it does not set' };
  if (!nginx && !forwarded) return { problem: 'neither X-Original-URI (nginx) nor X-Forwarded-Uri (Caddy, Traefik) is sent' };
  const dialect: Dialect = nginx ? 'nginx' : 'forwarded';
  const uri = nginx ? seen['x-original-uri'] : seen['x-forwarded-uri'];
  const method = nginx ? seen['x-original-method'] : seen['x-forwarded-method'];
  const names = nginx ? 'X-Original-URI and X-Original-Method' : 'X-Forwarded-Uri and X-Forwarded-Method';
  if (uri === undefined || method === undefined) return { problem: `${names} must both be sent` };
  // (a target that is no path, absolute-form or "*", is route()'s to refuse, as in the proxy mode: GH_BAD_PATH)
  if (!METHOD.test(method)) return { problem: `the original method is not an HTTP method (${JSON.stringify(method.slice(0, 40))})` };
  return { dialect, head: { method, url: uri, headers: req.headers } };
}

/** per runtime's header names (a reload with another header_prefix makes new ones): built once, copied into each answer */
const emptyIdentities = new WeakMap<object, Readonly<Record<string, string>>>();

/** Every identity header of an answer, each empty: what the answer says when it names no one. */
function noIdentity(gw: Gateway): Readonly<Record<string, string>> {
  const names = gw.runtime.identity.names;
  let empty = emptyIdentities.get(names);
  if (empty === undefined) {
    empty = Object.freeze({ [names.realm]: '', [names.subject]: '', [names.email]: '', [names.name]: '', [names.groups]: '', [names.assertion]: '' });
    emptyIdentities.set(names, empty);
  }
  return empty;
}

/** Every answer is about one cookie: never stored by any cache. */
function write(res: ServerResponse, answer: Answer, extra?: Record<string, string | string[]>): void {
  writeAnswer(res, answer, { ...extra, 'cache-control': 'no-store' });
}

/**
 * A refusal as the proxy can pass it on. nginx's auth_request knows 2xx, 401
 * and 403 and makes anything else a 500 "auth request unexpected status":
 * a refusal is a 403 for it, saying its code; 5xx (the gateway cannot judge
 * now) stays what it is. Other proxies copy the answer to the browser as it is.
 */
function refusalFor(dialect: Dialect, answer: Answer, code: ErrorCode | null): Answer {
  const headers = code === null ? answer.headers : { ...answer.headers, 'x-gatehouse-error': code };
  if (dialect === 'forwarded' || answer.status === 401 || answer.status === 403 || answer.status >= 500) return { ...answer, headers };
  const { location: _location, ...rest } = headers;
  return { ...answer, status: 403, headers: rest };
}

function absolute(gw: Gateway, location: string): string {
  return new URL(location, gw.runtime.publicOrigin).href;
}

/**
 * Not signed in, asked by nginx: 401 with where sign-in starts (X-Gatehouse-Login,
 * absolute) and, for a browser navigation, where nginx's error_page should send
 * the browser (X-Gatehouse-Redirect): "you are signed out" when it comes back
 * from the provider's sign-out, else the sign-in start. A script gets only the 401.
 */
function nginxSignedOut(signedOut: SignedOutRequest): Answer {
  const { gw, req: head, realm, returnTo, cookies, clearCookies } = signedOut;
  const answer = notSignedIn(signedOut, gw.runtime.publicOrigin);
  const formPage = pageOfFormPost(gw, head, realm);
  if (formPage !== null) {
    gw.metrics.request(realm.name, 'redirected');
    return { ...answer, headers: { ...answer.headers, 'x-gatehouse-redirect': formPage } };
  }
  if (!isNavigation(head)) {
    gw.metrics.request(realm.name, 'unauthenticated');
    return answer;
  }
  gw.metrics.request(realm.name, 'redirected');
  const landing = postLogoutLanding(gw, head, realm, returnTo, cookies);
  const redirect = landing === null ? String(answer.headers['x-gatehouse-login']) : absolute(gw, String(landing.headers.location));
  const setCookie = [...((landing?.headers['set-cookie'] as string[] | undefined) ?? []), ...(clearCookies ?? [])];
  return { ...answer, headers: { ...answer.headers, 'x-gatehouse-redirect': redirect, ...(setCookie.length ? { 'set-cookie': setCookie } : {}) } };
}

/**
 * A form this site's page sent in the browser after the session ended: its body
 * went to the proxy, never here, so it cannot be kept across the sign-in as the
 * proxy mode keeps it (preserve-post.ts). The person is sent to sign in and back
 * to the form's page (its Referer) rather than shown a 401 meant for scripts.
 * The sign-in start to send the browser to, or null for anything else.
 */
function pageOfFormPost(gw: Gateway, head: RequestHead, realm: RealmRuntime): string | null {
  const origin = gw.runtime.publicOrigin;
  if (!isBrowserFormPost(head) || !fromThisSite(head, origin)) return null;
  return origin + loginUrl(realm, recoveryReturnTo(head, origin, realm.paths[0] ?? '/'));
}

/** The proxy mode's answer to someone not signed in, for a proxy that copies it to the browser: never a 2xx (that would let the request through). */
function forwardedSignedOut(signedOut: SignedOutRequest): Answer | Promise<Answer> {
  const { gw, req: head, realm, returnTo, requestId, clearCookies } = signedOut;
  const formPage = pageOfFormPost(gw, head, realm);
  if (formPage !== null) {
    gw.metrics.request(realm.name, 'redirected');
    return { status: 303, headers: { location: formPage, 'x-request-id': requestId, ...(clearCookies ? { 'set-cookie': clearCookies } : {}) }, body: '' };
  }
  const notThrough = (answer: Answer): Answer => (answer.status < 300 ? { ...answer, status: 401 } : answer);
  let answer: Answer | Promise<Answer>;
  try {
    answer = answerSignedOut(signedOut, null, gw.runtime.publicOrigin);
  } catch (error) {
    return signInFailureAnswer(gw, head, realm, returnTo, requestId, error);
  }
  if (!(answer instanceof Promise)) return notThrough(answer);
  return answer.then(notThrough, (error: unknown) => signInFailureAnswer(gw, head, realm, returnTo, requestId, error));
}

interface Question {
  gw: Gateway;
  res: ServerResponse;
  original: Original;
  realm: RealmRuntime;
  path: string;
  cookies: CookieJar;
  ip: string;
  requestId: string;
}

/** The session check's outcome, told to the proxy. */
function answerChecked(q: Question, auth: AuthResult): Promise<void> | undefined {
  const { gw, res, realm, requestId, original } = q;
  const { head, dialect } = original;
  if (auth.kind === 'signed-in') {
    gw.metrics.request(realm.name, 'forwarded');
    // every identity header, empty where the person has none: a proxy that copies them overwrites whatever the client sent
    const headers: Record<string, string | string[]> = { ...noIdentity(gw), 'x-request-id': requestId };
    for (let i = 0; i < auth.entry.headers.length; i += 2) headers[auth.entry.headers[i]!] = auth.entry.headers[i + 1]!;
    headers[gw.runtime.identity.names.assertion] = auth.entry.assertion;
    if (auth.setCookies) {
      headers['set-cookie'] = auth.setCookies;
      // nginx's $upstream_http_set_cookie holds only the first Set-Cookie, and a session sealed into
      // several cookies needs each: for nginx, every line again under a name of its own (at most MAX_CHUNKS)
      if (dialect === 'nginx') for (const [i, line] of auth.setCookies.entries()) headers[`x-gatehouse-set-cookie-${i + 1}`] = line;
    }
    write(res, { status: 200, headers, body: '' });
    return undefined;
  }
  if (auth.kind === 'forbidden') {
    gw.metrics.request(realm.name, 'forbidden');
    gw.log.info({ audit: 'refusal', realm: realm.name, sub: auth.entry.session.sub, reason: auth.code, ip: q.ip, requestId }, 'request refused by allow rules');
    write(res, refusalAnswer(gw, head, realm, auth.code, requestId, auth.entry.session, q.path), { 'x-gatehouse-error': auth.code });
    return undefined;
  }
  const signedOut: SignedOutRequest = { gw, req: head, realm, returnTo: q.path, cookies: q.cookies, requestId, clearCookies: auth.clearCookies };
  if (dialect === 'nginx') {
    write(res, nginxSignedOut(signedOut));
    return undefined;
  }
  const answer = forwardedSignedOut(signedOut);
  if (!(answer instanceof Promise)) {
    write(res, answer);
    return undefined;
  }
  return answer.then((a) => write(res, a));
}

/**
 * Answer the proxy's question. A promise only where something had to be
 * awaited: a signed-in person whose session is cached is answered without one.
 */
export function handleForwardAuth(gw: Gateway, req: IncomingMessage, res: ServerResponse): Promise<void> | undefined {
  const requestId = taggedRequestId(req);
  const runtime = gw.runtime;
  const client = clientView(req, runtime.trustedProxies);
  if (!client.trusted) {
    warnUntrustedAsker(gw, gw.log, client.peer);
    write(res, errorAnswer(req, runtime.theme, 'GH_FORWARD_AUTH_UNTRUSTED', requestId));
    return undefined;
  }
  const original = originalRequest(req);
  if ('problem' in original) {
    gw.log.warn(
      { code: 'GH_FORWARD_AUTH_INCOMPLETE', detail: original.problem, peer: client.peer, requestId },
      'forward-auth request refused: the original request cannot be told',
    );
    write(res, errorAnswer(req, runtime.theme, 'GH_FORWARD_AUTH_INCOMPLETE', requestId));
    return undefined;
  }
  const { head, dialect } = original;
  const routed = route(gw, head, client, requestId);
  switch (routed.kind) {
    case 'handoff':
      // the gateway's own path sent to the helpdesk: the proxy must route it to the gateway instead
      gw.log.warn(
        { code: 'GH_FORWARD_AUTH_RESERVED', path: String(head.url).split('?')[0]!.slice(0, 200), requestId },
        'forward-auth was asked about a path of the gateway itself: route it to Gatehouse, not to the helpdesk',
      );
      write(res, refusalFor(dialect, errorAnswer(head, runtime.theme, 'GH_FORWARD_AUTH_RESERVED', requestId), 'GH_FORWARD_AUTH_RESERVED'));
      return undefined;
    case 'answer':
      write(res, refusalFor(dialect, routed.answer, routed.code));
      return undefined;
    case 'public':
    case 'realm':
      break;
  }
  // the proxy asks about a WebSocket handshake: the proxy mode's upgrade rules (cross-site hijacking) hold too.
  // Known by its Upgrade or by its Sec-WebSocket-Key: a proxy may keep one of them to itself (nginx drops
  // Upgrade from what it passes on unless told otherwise)
  if (head.headers.upgrade !== undefined || head.headers['sec-websocket-key'] !== undefined) {
    const refusal = upgradeRefusal(gw, head);
    if (refusal !== null) {
      write(res, refusalFor(dialect, errorAnswer(head, runtime.theme, refusal.code, requestId), refusal.code));
      return undefined;
    }
  }
  if (routed.kind === 'public') {
    gw.metrics.request('-', 'public');
    // every identity header, empty: a proxy that copies them unconditionally (Caddy 2.6 writes a header
    // the answer lacks as the literal text of its placeholder) passes on nothing but "no one"
    write(res, { status: 200, headers: { ...noIdentity(gw), 'x-request-id': requestId }, body: '' });
    return undefined;
  }
  const q: Question = { gw, res, original, realm: routed.realm, path: routed.path, cookies: readCookies(req.headers), ip: client.ip, requestId };
  const checked = checkSession(gw, head, q.realm, q.cookies, requestId);
  if (!(checked instanceof Promise)) return answerChecked(q, checked);
  return checked.then((auth) => (isAnswer(auth) ? write(res, refusalFor(dialect, auth, null)) : answerChecked(q, auth)));
}
