/**
 * The request path, in the order a request meets it: size limits, HTTPS, the
 * reserved /.gatehouse/ prefix and callback/logout paths (handed to Fastify),
 * path normalization, public paths, the realm, the session, and then forward —
 * or refuse: redirect to the provider / sign-in page for a browser navigation,
 * 401 JSON for everything else, 403 for a session the allow rules refuse.
 * The decisions are decide.ts's, shared with forward-auth
 * (flows/forward-auth.ts), which answers them to a proxy instead of forwarding.
 * Signed-in traffic never touches the framework: this is the hot path.
 */
import { ServerResponse, type IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Gateway } from '../gateway.js';
import type { RealmRuntime } from '../runtime.js';
import { clientView, type ClientView } from './client-address.js';
import { authenticate, type AuthResult } from '../flows/authenticate.js';
import { readCookies, type CookieJar } from './cookies.js';
import { forward } from '../proxy/forward.js';
import { forwardUpgrade, refuseUpgrade } from '../proxy/upgrade.js';
import { hasBody } from '../proxy/headers.js';
import { writeAnswer, type Answer } from './respond.js';
import { refusalAnswer } from '../flows/sign-in-answers.js';
import { answerSignedOut, checkSession, corsOriginOf, isAnswer, route, sessionCheckFailed, signInFailureAnswer, upgradeRefusal } from './decide.js';
import { FORWARD_AUTH_PATH, handleForwardAuth } from '../flows/forward-auth.js';
import { taggedRequestId } from './request-id.js';

/** Is the request for the forward-auth endpoint? Its exact path, any query: nothing else is judged as the proxy's question. */
function isForwardAuth(url: string | undefined): boolean {
  if (url === undefined) return false;
  return url.startsWith(FORWARD_AUTH_PATH) && (url.length === FORWARD_AUTH_PATH.length || url.charCodeAt(FORWARD_AUTH_PATH.length) === 63) /* ? */;
}

/**
 * Route, authenticate and answer one request. Returns a promise only when
 * something had to be awaited (a session not in the cache, discovery, a form
 * body): the signed-in and the common refused requests finish without one.
 */
export function handleRequest(
  gw: Gateway,
  req: IncomingMessage,
  res: ServerResponse,
  handOff: (req: IncomingMessage, res: ServerResponse) => void,
): Promise<void> | undefined {
  // a proxy in front asks about another request (flows/forward-auth.ts): the same decisions, answered to it
  if (isForwardAuth(req.url)) return handleForwardAuth(gw, req, res);
  const requestId = taggedRequestId(req);
  const client = clientView(req, gw.runtime.trustedProxies);
  const routed = route(gw, req, client, requestId);
  switch (routed.kind) {
    case 'handoff':
      handOff(req, res);
      return undefined;
    case 'answer':
      writeAnswer(res, routed.answer);
      return undefined;
    case 'public':
      gw.metrics.request('-', 'public');
      forward(gw, req, res, { path: routed.path, entry: null, client, requestId, setCookies: null, corsOrigin: corsOriginOf(gw, req) });
      return undefined;
    case 'realm':
      break;
  }
  const realm = routed.realm;
  const cors = corsOriginOf(gw, req);
  if (req.method === 'OPTIONS' && cors && req.headers['access-control-request-method']) {
    // CORS preflight carries no cookies: answered here, never forwarded or refused
    writeAnswer(res, {
      status: 204,
      headers: {
        'access-control-allow-origin': cors,
        'access-control-allow-credentials': 'true',
        'access-control-allow-methods': 'GET, POST, PUT, PATCH, DELETE, OPTIONS',
        'access-control-allow-headers': String(req.headers['access-control-request-headers'] ?? '').slice(0, 1024),
        'access-control-max-age': '600',
        vary: 'Origin',
      },
      body: '',
    });
    return undefined;
  }
  const request: RealmRequest = { req, res, realm, path: routed.path, cookies: readCookies(req.headers), client, requestId, cors };
  // a session seen before and nothing due: no promise on the way to the helpdesk
  const checked = checkSession(gw, req, realm, request.cookies, requestId);
  if (!(checked instanceof Promise)) return answerAuthenticated(gw, request, checked);
  return checked.then((auth) => (isAnswer(auth) ? writeAnswer(res, auth) : answerAuthenticated(gw, request, auth)));
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
    gw.log.info(
      { audit: 'refusal', realm: realm.name, sub: auth.entry.session.sub, reason: auth.code, ip: r.client.ip, requestId },
      'request refused by allow rules',
    );
    writeAnswer(res, refusalAnswer(gw, req, realm, auth.code, requestId, auth.entry.session, r.path));
    return undefined;
  }
  const cannotSignIn = (error: unknown): void => writeAnswer(res, signInFailureAnswer(gw, req, realm, r.path, requestId, error));
  let answer: Answer | Promise<Answer>;
  try {
    answer = answerSignedOut({ gw, req, realm, returnTo: r.path, cookies: r.cookies, requestId, clearCookies: auth.clearCookies }, req);
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

/**
 * A proxy's question about a WebSocket handshake can come as a handshake itself:
 * Caddy's reverse_proxy (forward_auth) keeps the client's Connection: Upgrade and
 * Upgrade on the check it sends. It is a question like any other: answered with an
 * ordinary HTTP answer on the socket (never 101), which then closes.
 */
function answerUpgradeQuestion(gw: Gateway, req: IncomingMessage, socket: Duplex): Promise<void> | undefined {
  const res = new ServerResponse(req);
  res.shouldKeepAlive = false;
  res.assignSocket(socket as Socket);
  res.once('finish', () => {
    res.detachSocket(socket as Socket);
    socket.end();
  });
  return handleForwardAuth(gw, req, res);
}

/** WebSocket upgrades: the same decisions, answered on the raw socket. */
export async function handleUpgrade(gw: Gateway, req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
  const runtime = gw.runtime;
  const requestId = taggedRequestId(req);
  socket.on('error', () => socket.destroy());
  if (isForwardAuth(req.url)) return answerUpgradeQuestion(gw, req, socket);
  // a body the upgrade announces would be left for the helpdesk to read out of whatever came next
  if (hasBody(req)) return refuseUpgrade(socket, 400, 'GH_BAD_REQUEST', requestId);
  const client = clientView(req, runtime.trustedProxies);
  const routed = route(gw, req, client, requestId);
  if (routed.kind === 'handoff') return refuseUpgrade(socket, 400, 'GH_BAD_REQUEST', requestId);
  // (a redirect to https cannot be followed by a WebSocket client: refused as a bad request)
  if (routed.kind === 'answer')
    return refuseUpgrade(socket, routed.answer.status === 308 ? 400 : routed.answer.status, routed.code ?? 'GH_BAD_REQUEST', requestId);
  // upgrades switched off, another protocol than WebSocket, a page of another origin (decide.ts)
  const refusal = upgradeRefusal(gw, req);
  if (refusal !== null) return refuseUpgrade(socket, refusal.status, refusal.code, requestId);
  if (routed.kind === 'public') {
    return forwardUpgrade(gw, req, socket, head, { path: routed.path, entry: null, client, requestId, setCookies: null, corsOrigin: null });
  }
  const realm = routed.realm;
  let auth: AuthResult;
  try {
    auth = await authenticate(gw, realm, readCookies(req.headers));
  } catch (error) {
    const { gh, setCookies } = sessionCheckFailed(gw, error, requestId, realm);
    return refuseUpgrade(socket, gh.status, gh.code, requestId, setCookies);
  }
  if (auth.kind === 'signed-out') return refuseUpgrade(socket, 401, 'GH_NOT_SIGNED_IN', requestId);
  if (auth.kind === 'forbidden') return refuseUpgrade(socket, 403, auth.code, requestId);
  gw.metrics.request(realm.name, 'forwarded');
  forwardUpgrade(gw, req, socket, head, { path: routed.path, entry: auth.entry, client, requestId, setCookies: auth.setCookies, corsOrigin: null });
}
