/**
 * The gateway's own endpoints: everything under /.gatehouse/, and each realm's
 * callback and logout paths. Registered once; each handler reads the current
 * runtime, so a reload that changes a callback path needs no new routes.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Gateway } from '../gateway.js';
import type { RealmRuntime } from '../runtime.js';
import { GatehouseError } from '../errors.js';
import { readCookies, type CookieJar } from '../edge/cookies.js';
import { clientView } from '../edge/client-address.js';
import { normalizePath } from './realm.js';
import { loginUrl, safeReturnTo } from './return-to.js';
import { authenticate } from '../flows/authenticate.js';
import { callbackRateLimited, countFailedCallback, handleCallback, startLogin } from '../flows/signin.js';
import { endSession, fromThisSite, logout, logoutPage } from '../flows/logout.js';
import { errorAnswer, jsonAnswer, sendAnswer, type Answer } from '../edge/respond.js';
import { ANOTHER_ACCOUNT, callbackFailureAnswer, signInUnavailableAnswer } from '../flows/sign-in-answers.js';
import { joinChunks } from '../session/codec.js';
import { taggedRequestId } from '../edge/request-id.js';
import { registerBackchannelRoutes } from '../flows/backchannel.js';
import { registerAdminRoutes } from '../flows/admin.js';
import { registerResumeRoute } from '../flows/preserve-post.js';
import { helpdeskAcceptsConnections } from '../proxy/readiness.js';

type Query = Record<string, string | string[] | undefined>;

function realmNamed(gw: Gateway, name: unknown): RealmRuntime {
  const realm = typeof name === 'string' ? gw.runtime.realms.get(name) : undefined;
  if (!realm) throw new GatehouseError('GH_UNKNOWN_REALM', `no realm ${String(name).slice(0, 40)}`);
  return realm;
}

/**
 * The realm a helpdesk front-end call is about: ?realm=, else the Referer's
 * path, else (an address typed into the browser) the one realm this browser
 * has a session cookie for. Several or none: the person is told to add ?realm=.
 */
function realmOfRequest(gw: Gateway, request: FastifyRequest, cookies: CookieJar): RealmRuntime {
  const query = request.query as Query;
  if (typeof query.realm === 'string') return realmNamed(gw, query.realm);
  const referer = request.headers.referer;
  if (typeof referer === 'string') {
    try {
      const url = new URL(referer);
      const path = url.origin === gw.runtime.publicOrigin ? normalizePath(url.pathname) : null;
      const realm = path ? gw.runtime.realmTable.match(path) : null;
      if (realm) return realm;
    } catch {
      /* fall through */
    }
  }
  const withCookie = [...gw.runtime.realms.values()].filter((realm) => joinChunks(cookies, realm.cookieName) !== undefined);
  if (withCookie.length === 1) return withCookie[0]!;
  throw new RealmRequired(withCookie.length > 1 ? withCookie : [...gw.runtime.realms.values()]);
}

/** No way to tell the realm: the candidates, for the page's links and the JSON. */
class RealmRequired extends GatehouseError {
  constructor(readonly candidates: RealmRuntime[]) {
    super('GH_REALM_REQUIRED', `userinfo without realm=, a same-origin Referer or exactly one session cookie (${candidates.length} candidates)`);
  }
}

function realmRequiredAnswer(gw: Gateway, request: FastifyRequest, error: RealmRequired): Answer {
  const names = error.candidates.map((realm) => realm.name);
  const actions = names.map((name) => ({
    kind: 'link' as const,
    href: `/.gatehouse/userinfo?realm=${encodeURIComponent(name)}`,
    label: `/.gatehouse/userinfo?realm=${name}`,
    asButton: true,
  }));
  return errorAnswer(request.raw, gw.runtime.theme, error, taggedRequestId(request.raw), { actions, json: { realms: names } });
}

export function registerReservedRoutes(app: FastifyInstance, gw: Gateway): void {
  registerBackchannelRoutes(app, gw);
  registerAdminRoutes(app, gw);
  registerResumeRoute(app, gw);
  app.get('/.gatehouse/healthz', async (_request, reply) => reply.header('cache-control', 'no-store').send({ status: 'ok' }));

  app.get('/.gatehouse/readyz', async (_request, reply) => {
    if (gw.draining) return reply.code(503).header('cache-control', 'no-store').send({ ready: false, draining: true });
    const realms: Record<string, { provider: boolean; error?: string }> = {};
    // started first: it runs while the providers are looked at
    const upstreamCheck = helpdeskAcceptsConnections(gw.runtime.upstream.url);
    for (const realm of gw.runtime.realms.values()) {
      // looks at the provider again (at most once a second): a provider that went down turns readiness false
      const ready = await realm.provider.checkReady();
      realms[realm.name] = ready ? { provider: true } : { provider: false, error: realm.provider.error?.code ?? 'GH_DISCOVERY_FAILED' };
    }
    const [upstream, store] = await Promise.all([upstreamCheck, gw.store.ready().catch(() => false)]);
    const ok = upstream && store && Object.values(realms).every((r) => r.provider);
    return reply
      .code(ok ? 200 : 503)
      .header('cache-control', 'no-store')
      .send({ ready: ok, upstream, session_store: store, realms });
  });

  app.get('/.gatehouse/jwks.json', async (_request, reply) =>
    reply
      .header('cache-control', 'public, max-age=300')
      .header('content-type', 'application/jwk-set+json')
      .send(JSON.stringify(gw.runtime.identity.signer.jwks)),
  );

  app.get('/.gatehouse/metrics', async (request, reply) => {
    // metrics.listen set: metrics are on their own (private) listener only, not on the public port
    if (!gw.metrics.publicEndpoint) return sendAnswer(reply, errorAnswer(request.raw, gw.runtime.theme, 'GH_NOT_FOUND', taggedRequestId(request.raw)));
    return reply.header('content-type', gw.metrics.contentType).send(await gw.metrics.render());
  });

  app.get('/.gatehouse/userinfo', async (request, reply) => {
    const cookies = readCookies(request.headers);
    let realm: RealmRuntime;
    try {
      realm = realmOfRequest(gw, request, cookies);
    } catch (error) {
      if (error instanceof RealmRequired) return sendAnswer(reply, realmRequiredAnswer(gw, request, error));
      throw error;
    }
    const auth = await authenticate(gw, realm, cookies);
    if (auth.kind !== 'signed-in') {
      const login = loginUrl(realm, realm.paths[0] ?? '/');
      return sendAnswer(reply, jsonAnswer(401, { error: 'GH_NOT_SIGNED_IN', realm: realm.name, login_url: login }, { 'x-gatehouse-login': login }));
    }
    const s = auth.entry.session;
    // a refresh on the way hands the browser its refreshed session (a rotated refresh token must not be lost)
    if (auth.setCookies) reply.header('set-cookie', auth.setCookies);
    return reply.header('cache-control', 'no-store').send({
      realm: realm.name,
      sub: s.sub,
      email: s.email ?? null,
      name: s.name ?? null,
      groups: s.groups ?? [],
      expires_at: new Date(s.createdAt + gw.runtime.times.lifetimeMs).toISOString(),
    });
  });

  const startHandler = async (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => {
    const params = { ...(request.query as Query), ...((request.body as Query | undefined) ?? {}) };
    const realm = realmNamed(gw, params.realm);
    const fallback = realm.paths[0] ?? '/';
    const returnTo = safeReturnTo(params.rd, gw.runtime.publicOrigin, gw.runtime.allowedRedirectOrigins, fallback);
    const cookies = readCookies(request.headers);
    const chooseAccount = params[ANOTHER_ACCOUNT.name] === ANOTHER_ACCOUNT.value;
    let setCookies: string[] = [];
    // "use another account": this realm's session ends first (only on a POST from this site, like signing out)
    if (chooseAccount && request.method === 'POST' && fromThisSite(request.raw, gw.runtime.publicOrigin)) {
      const ip = clientView(request.raw, gw.runtime.trustedProxies).ip;
      ({ clear: setCookies } = await endSession(gw, realm, cookies, taggedRequestId(request.raw), ip));
    }
    try {
      return sendAnswer(reply, await startLogin(gw, realm, returnTo, cookies, setCookies, { chooseAccount }));
    } catch (error) {
      if (!(error instanceof GatehouseError) || !error.code.startsWith('GH_DISCOVERY')) throw error;
      gw.log.warn({ code: error.code, detail: error.detail, requestId: taggedRequestId(request.raw), realm: realm.name }, 'cannot start sign-in');
      const answer = signInUnavailableAnswer(gw, request.raw, realm, error, returnTo, taggedRequestId(request.raw));
      if (setCookies.length) answer.headers['set-cookie'] = setCookies;
      return sendAnswer(reply, answer);
    }
  };
  app.get('/.gatehouse/login', startHandler);
  app.post('/.gatehouse/login', startHandler);

  // callback and logout paths come from the runtime; Fastify only sees them when front.ts hands them over
  app.all('/*', async (request, reply) => {
    const requestId = taggedRequestId(request.raw);
    const path = normalizePath(request.url.split('?')[0] ?? '/');
    const reserved = path ? gw.runtime.reserved.get(path) : undefined;
    if (!reserved) return sendAnswer(reply, errorAnswer(request.raw, gw.runtime.theme, 'GH_NOT_FOUND', requestId));
    const { realm } = reserved;
    const cookies = readCookies(request.headers);
    const ip = clientView(request.raw, gw.runtime.trustedProxies).ip;
    if (reserved.kind === 'logout') {
      if (request.method === 'GET' || request.method === 'HEAD') return sendAnswer(reply, await logoutPage(gw, realm, cookies));
      if (request.method !== 'POST') throw new GatehouseError('GH_METHOD_NOT_ALLOWED');
      return sendAnswer(reply, await logout(gw, realm, request.raw, (request.body as Record<string, unknown>) ?? {}, cookies, requestId, ip));
    }
    if (request.method !== 'GET') throw new GatehouseError('GH_METHOD_NOT_ALLOWED');
    if (callbackRateLimited(gw, ip)) {
      gw.metrics.signIn(realm.name, false, 'GH_RATE_LIMITED');
      return sendAnswer(reply, errorAnswer(request.raw, gw.runtime.theme, 'GH_RATE_LIMITED', requestId, { headers: { 'retry-after': '60' } }));
    }
    const outcome = await handleCallback(gw, realm, request.query as Query, cookies);
    if (outcome.kind === 'signed-in') {
      gw.metrics.signIn(realm.name, true);
      gw.log.info({ audit: 'sign-in', realm: realm.name, sub: outcome.session.sub, session: outcome.session.id, ip, requestId }, 'signed in');
      return sendAnswer(reply, outcome.answer);
    }
    // a reload of a callback that already signed this browser in: on to where it was going, nothing counted
    if (outcome.kind === 'already-signed-in') return sendAnswer(reply, outcome.answer);
    const error = outcome.error;
    await countFailedCallback(gw, ip); // with workers: counted on every worker before this answer
    gw.metrics.signIn(realm.name, false, error.code);
    gw.log.warn(
      { audit: 'sign-in-failed', realm: realm.name, sub: outcome.sub, reason: error.code, detail: error.detail, step: outcome.step, ip, requestId },
      'sign-in failed',
    );
    return sendAnswer(reply, callbackFailureAnswer(gw, request.raw, realm, outcome, requestId));
  });
}
