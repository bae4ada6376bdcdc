/**
 * OpenID Connect Back-Channel Logout 1.0: the provider POSTs a logout token to
 * /.gatehouse/backchannel-logout/<realm> when a person signs out at the
 * provider (or is signed out there by an administrator). Steps, in order:
 * the request's shape (2.5: a form POST with logout_token), the token (2.6:
 * signature against the realm's JWKS, iss, aud, iat, the back-channel event,
 * sid and/or sub, no nonce — oidc/id-token.ts), its age, its jti spent once
 * (2.6 step 10, shared by every instance), then the sessions it names are ended
 * through the revocation list, which every instance consults on every request.
 * 200 on success; 400 with a JSON error otherwise (2.8); never cached.
 */
import type { FastifyInstance, FastifyRequest, FastifyReply } from 'fastify';
import type { Gateway } from '../gateway.js';
import { BACKCHANNEL_LOGOUT_PATH } from '../runtime.js';
import { GatehouseError, isGatehouseError, ERROR_CODES } from '../errors.js';
import { verifyLogoutToken } from '../oidc/id-token.js';
import { jsonAnswer, sendAnswer } from '../edge/respond.js';
import { taggedRequestId } from '../edge/request-id.js';
import { clientView } from '../edge/client-address.js';

/**
 * 2.6 lets an RP refuse logout tokens whose iat is too far in the past; the
 * jti is remembered for exactly this window, so a token older than the window
 * cannot be replayed after its jti is forgotten.
 */
export const LOGOUT_TOKEN_MAX_AGE_SEC = 10 * 60;

function failure(reply: FastifyReply, error: GatehouseError, requestId: string): FastifyReply {
  // OAuth 2.0 style error (2.8) plus our own code; the detail stays in the log
  const oauthError =
    error.code === 'GH_SESSION_STORE_UNAVAILABLE' || error.code === 'GH_JWKS_UNAVAILABLE' || error.code.startsWith('GH_DISCOVERY')
      ? 'temporarily_unavailable'
      : 'invalid_request';
  return sendAnswer(
    reply,
    jsonAnswer(
      400,
      { error: oauthError, error_description: ERROR_CODES[error.code].message, code: error.code, request_id: requestId },
      { 'x-request-id': requestId },
    ),
  );
}

async function handleBackchannelLogout(gw: Gateway, request: FastifyRequest<{ Params: { realm: string } }>, reply: FastifyReply): Promise<FastifyReply> {
  const requestId = taggedRequestId(request.raw);
  const realm = gw.runtime.realms.get(request.params.realm);
  const realmName = realm?.name ?? '-';
  const ip = clientView(request.raw, gw.runtime.trustedProxies).ip; // the provider's address, for the audit line
  try {
    if (!realm) throw new GatehouseError('GH_UNKNOWN_REALM', 'back-channel logout for an unknown realm');
    // 2.5: application/x-www-form-urlencoded with exactly one logout_token
    const contentType = String(request.headers['content-type'] ?? '')
      .split(';')[0]!
      .trim()
      .toLowerCase();
    const body = request.body as Record<string, unknown> | undefined;
    if (contentType !== 'application/x-www-form-urlencoded' || typeof body?.logout_token !== 'string') {
      throw new GatehouseError('GH_LOGOUT_TOKEN_INVALID', 'not a form POST with a logout_token');
    }
    const metadata = await realm.provider.ensureReady();
    const now = gw.now();
    const claims = await verifyLogoutToken(body.logout_token, {
      getKey: realm.provider.keys('anyone'), // anyone can POST a logout token: its unknown kid refetches only after the cooldown
      issuer: metadata.issuer,
      clientId: realm.credentials.clientId,
      algorithms: metadata.id_token_signing_alg_values_supported,
      now,
      clockToleranceSec: gw.runtime.clockToleranceSec,
    });
    const iat = claims.iat as number; // verified present and not in the future
    if (iat < now / 1000 - LOGOUT_TOKEN_MAX_AGE_SEC - gw.runtime.clockToleranceSec) {
      throw new GatehouseError('GH_LOGOUT_TOKEN_INVALID', `iat is more than ${LOGOUT_TOKEN_MAX_AGE_SEC} s in the past`);
    }
    // 2.6 (10): a jti seen before is a replay; remembered as long as the token could still be accepted
    const windowMs = (LOGOUT_TOKEN_MAX_AGE_SEC + 2 * gw.runtime.clockToleranceSec) * 1000;
    const jtiKey = `logout-jti\u0000${metadata.issuer}\u0000${claims.jti}`;
    if (!(await gw.spentStates.spend(jtiKey, windowMs))) throw new GatehouseError('GH_LOGOUT_TOKEN_REPLAYED', 'jti already used');

    // 2.7: with a sid, the sessions of that provider session; with only a sub, every session of the subject
    const until = now + gw.runtime.times.lifetimeMs; // no session created before now outlives this
    const entry =
      claims.sid !== undefined
        ? ({ kind: 'provider-session', realm: realm.name, value: claims.sid, at: now, until } as const)
        : ({ kind: 'subject', realm: realm.name, value: claims.sub!, at: now, until } as const);
    await gw.revocations.revoke(entry);
    gw.metrics.signOut(realm.name, 'backchannel');
    gw.log.info(
      { audit: 'backchannel-logout', realm: realm.name, sub: claims.sub, sid: claims.sid, by: entry.kind, reason: 'provider logout', ip, requestId },
      'sessions ended by back-channel logout',
    );
    return reply.code(200).header('cache-control', 'no-store').header('x-request-id', requestId).send();
  } catch (error) {
    const gh = isGatehouseError(error) ? error : new GatehouseError('GH_INTERNAL', (error as Error).message, { cause: error });
    if (gh.code.startsWith('GH_LOGOUT_TOKEN') && realm) gw.metrics.tokenFailure(realm.name, gh.code);
    gw.log.warn(
      { audit: 'backchannel-logout-refused', realm: realmName, code: gh.code, reason: gh.code, detail: gh.detail, ip, requestId },
      'back-channel logout refused',
    );
    return failure(reply, gh, requestId);
  }
}

export function registerBackchannelRoutes(app: FastifyInstance, gw: Gateway): void {
  app.post<{ Params: { realm: string } }>(`${BACKCHANNEL_LOGOUT_PATH}/:realm`, (request, reply) => handleBackchannelLogout(gw, request, reply));
}
