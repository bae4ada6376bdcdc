/**
 * The gateway's own endpoints: everything under /.gatehouse/, and each realm's
 * callback and logout paths. Registered once; each handler reads the current
 * runtime, so a reload that changes a callback path needs no new routes.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Gateway } from './gateway.js';
import type { RealmRuntime } from '../config/runtime.js';
import { GatehouseError } from '../errors.js';
import { readCookies } from './cookies.js';
import { clientView } from './client-address.js';
import { normalizePath } from './realm.js';
import { safeReturnTo } from './return-to.js';
import { authenticate } from './authenticate.js';
import { callbackRateLimited, countFailedCallback, handleCallback, startLogin } from './signin.js';
import { logout, logoutPage } from './logout.js';
import { errorAnswer, jsonAnswer, sendAnswer } from './respond.js';
import { loginUrl, taggedRequestId } from './front.js';
import { registerBackchannelRoutes } from './backchannel.js';
import { registerAdminRoutes } from './admin.js';
import { registerResumeRoute } from './preserve-post.js';

type Query = Record<string, string | string[] | undefined>;

function realmNamed(gw: Gateway, name: unknown): RealmRuntime {
  const realm = typeof name === 'string' ? gw.runtime.realms.get(name) : undefined;
  if (!realm) throw new GatehouseError('GH_UNKNOWN_REALM', `no realm ${String(name).slice(0, 40)}`);
  return realm;
}

/** The realm a helpdesk front-end call is about: ?realm=, else the Referer's path. */
function realmOfRequest(gw: Gateway, request: FastifyRequest): RealmRuntime {
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
  throw new GatehouseError('GH_UNKNOWN_REALM', 'userinfo without realm= or a same-origin Referer');
}

async function upstreamAnswers(gw: Gateway): Promise<boolean> {
  try {
    const response = await gw.upstreamPool.request({ path: '/', method: 'HEAD', headersTimeout: 2000, bodyTimeout: 2000 });
    await response.body.dump();
    return true;
  } catch {
    return false;
  }
}

export function registerReservedRoutes(app: FastifyInstance, gw: Gateway): void {
  registerBackchannelRoutes(app, gw);
  registerAdminRoutes(app, gw);
  registerResumeRoute(app, gw);
  app.get('/.gatehouse/healthz', async (_request, reply) => reply.header('cache-control', 'no-store').send({ status: 'ok' }));

  app.get('/.gatehouse/readyz', async (_request, reply) => {
    if (gw.draining) return reply.code(503).header('cache-control', 'no-store').send({ ready: false, draining: true });
    const realms: Record<string, { provider: boolean; error?: string }> = {};
    for (const realm of gw.runtime.realms.values()) {
      // looks at the provider again (at most once a second): a provider that went down turns readiness false
      const ready = await realm.provider.checkReady();
      realms[realm.name] = ready ? { provider: true } : { provider: false, error: realm.provider.error?.code ?? 'GH_DISCOVERY_FAILED' };
    }
    const [upstream, store] = await Promise.all([upstreamAnswers(gw), gw.store.ready().catch(() => false)]);
    const ok = upstream && store && Object.values(realms).every((r) => r.provider);
    return reply.code(ok ? 200 : 503).header('cache-control', 'no-store').send({ ready: ok, upstream, session_store: store, realms });
  });

  app.get('/.gatehouse/jwks.json', async (_request, reply) =>
    reply.header('cache-control', 'public, max-age=300').header('content-type', 'application/jwk-set+json').send(JSON.stringify(gw.runtime.identity.signer.jwks)),
  );

  app.get('/.gatehouse/metrics', async (_request, reply) => reply.header('content-type', gw.metrics.contentType).send(await gw.metrics.render()));

  app.get('/.gatehouse/userinfo', async (request, reply) => {
    const realm = realmOfRequest(gw, request);
    const auth = await authenticate(gw, realm, readCookies(request.headers));
    if (auth.kind !== 'signed-in') {
      const login = loginUrl(realm, realm.paths[0] ?? '/');
      return sendAnswer(reply, jsonAnswer(401, { error: 'GH_NOT_SIGNED_IN', realm: realm.name, login_url: login }, { 'x-gatehouse-login': login }));
    }
    const s = auth.entry.session;
    return reply.header('cache-control', 'no-store').send({ realm: realm.name, sub: s.sub, email: s.email ?? null, name: s.name ?? null, groups: s.groups ?? [], expires_at: new Date(s.createdAt + gw.runtime.times.lifetimeMs).toISOString() });
  });

  const startHandler = async (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => {
    const params = { ...(request.query as Query), ...((request.body as Query | undefined) ?? {}) };
    const realm = realmNamed(gw, params.realm);
    const fallback = realm.paths[0] ?? '/';
    const returnTo = safeReturnTo(params.rd, gw.runtime.publicOrigin, gw.runtime.allowedRedirectOrigins, fallback);
    return sendAnswer(reply, await startLogin(gw, realm, returnTo, readCookies(request.headers)));
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
      if (request.method === 'GET' || request.method === 'HEAD') return sendAnswer(reply, await logoutPage(gw, realm, cookies, requestId));
      if (request.method !== 'POST') throw new GatehouseError('GH_METHOD_NOT_ALLOWED');
      return sendAnswer(reply, await logout(gw, realm, request.raw, (request.body as Record<string, unknown>) ?? {}, cookies, requestId, ip));
    }
    if (request.method !== 'GET') throw new GatehouseError('GH_METHOD_NOT_ALLOWED');
    if (callbackRateLimited(gw, ip)) {
      gw.metrics.signIn(realm.name, false, 'GH_RATE_LIMITED');
      return sendAnswer(reply, errorAnswer(request.raw, gw.runtime.theme, 'GH_RATE_LIMITED', requestId, { headers: { 'retry-after': '60' } }));
    }
    let outcome;
    try {
      outcome = await handleCallback(gw, realm, request.raw, request.query as Query, cookies);
    } catch (error) {
      outcome = { error: error instanceof GatehouseError ? error : new GatehouseError('GH_INTERNAL', (error as Error).message, { cause: error }), clear: [] as string[] };
    }
    if (outcome.answer && outcome.session) {
      gw.metrics.signIn(realm.name, true);
      gw.log.info({ audit: 'sign-in', realm: realm.name, sub: outcome.session.sub, session: outcome.session.id, ip, requestId }, 'signed in');
      return sendAnswer(reply, outcome.answer);
    }
    const error = outcome.error!;
    countFailedCallback(gw, ip);
    gw.metrics.signIn(realm.name, false, error.code);
    gw.log.warn({ audit: 'sign-in-failed', realm: realm.name, sub: outcome.sub, reason: error.code, detail: error.detail, ip, requestId }, 'sign-in failed');
    const answer = errorAnswer(request.raw, gw.runtime.theme, error, requestId, { retryHref: loginUrl(realm, realm.paths[0] ?? '/') });
    if (outcome.clear.length) answer.headers['set-cookie'] = outcome.clear;
    return sendAnswer(reply, answer);
  });
}
