/**
 * The operator's API. POST /.gatehouse/admin/sign-out ends every session of a
 * subject ("sign out everywhere"), in one realm or in all, on every instance:
 * a subject revocation, published to every instance and kept until no session
 * created before it can still be alive. Guarded by its own credential,
 * `admin.token`, sent as `Authorization: Bearer <token>` and compared in
 * constant time; without admin.token the API does not exist (404).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Gateway } from '../gateway.js';
import { GatehouseError } from '../errors.js';
import { clientView } from '../edge/client-address.js';
import { jsonAnswer, sendAnswer } from '../edge/respond.js';
import { taggedRequestId } from '../edge/request-id.js';

const MAX_SUBJECT_LENGTH = 255;

/** Hashing first makes the comparison constant-time in the token's length too. */
export function adminTokenMatches(header: unknown, expected: string): boolean {
  if (typeof header !== 'string') return false;
  const match = /^Bearer +(\S+) *$/i.exec(header);
  const presented = createHash('sha256')
    .update(match?.[1] ?? '')
    .digest();
  const wanted = createHash('sha256').update(expected).digest();
  return timingSafeEqual(presented, wanted) && match !== null;
}

async function handleSignOutEverywhere(gw: Gateway, request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
  const runtime = gw.runtime;
  const requestId = taggedRequestId(request.raw);
  const ip = clientView(request.raw, runtime.trustedProxies).ip;
  if (runtime.adminToken === undefined) throw new GatehouseError('GH_NOT_FOUND', 'admin API is off (admin.token unset)');
  if (!adminTokenMatches(request.headers.authorization, runtime.adminToken)) {
    gw.log.warn({ audit: 'admin-refused', ip, requestId }, 'admin request without a valid credential');
    return sendAnswer(
      reply,
      jsonAnswer(
        401,
        { error: 'GH_ADMIN_UNAUTHORIZED', message: 'Admin credential missing or wrong.', request_id: requestId },
        { 'www-authenticate': 'Bearer realm="gatehouse-admin"', 'x-request-id': requestId },
      ),
    );
  }
  const body = request.body as { sub?: unknown; realm?: unknown } | undefined;
  const sub = body?.sub;
  if (typeof sub !== 'string' || sub.length === 0 || sub.length > MAX_SUBJECT_LENGTH)
    throw new GatehouseError('GH_BAD_REQUEST', 'body must be JSON {"sub": "...", "realm"?: "..."}');
  let realms: string[];
  if (body?.realm === undefined) realms = [...runtime.realms.keys()];
  else if (typeof body.realm === 'string' && runtime.realms.has(body.realm)) realms = [body.realm];
  else throw new GatehouseError('GH_UNKNOWN_REALM', 'admin sign-out for an unknown realm');

  const now = gw.now();
  const until = now + runtime.times.lifetimeMs;
  for (const realm of realms) {
    await gw.revocations.revoke({ kind: 'subject', realm, value: sub, at: now, until }); // GH_SESSION_STORE_UNAVAILABLE → 503
    gw.metrics.signOut(realm, 'admin');
  }
  gw.log.info({ audit: 'admin-sign-out', sub, realms, ip, requestId }, 'every session of the subject ended');
  return sendAnswer(reply, jsonAnswer(200, { sub, realms, ended_before: new Date(now).toISOString() }, { 'x-request-id': requestId }));
}

export function registerAdminRoutes(app: FastifyInstance, gw: Gateway): void {
  app.post('/.gatehouse/admin/sign-out', (request, reply) => handleSignOutEverywhere(gw, request, reply));
}
