/**
 * The ID token and logout token checks. jose verifies the signature against the
 * provider's JWKS with an explicit algorithm allow-list; the claim checks follow
 * in a fixed order (presence, equality, time) as OIDC Core 3.1.3.7 lists them.
 * jose's errors are translated here, once, into GH_ID_TOKEN_* codes; nothing above
 * this module imports jose's error classes.
 */
import { timingSafeEqual } from 'node:crypto';
import { decodeProtectedHeader, jwtVerify, errors as joseErrors, type JWTPayload, type JWTVerifyGetKey, type ProtectedHeaderParameters } from 'jose';
import { GatehouseError, type ErrorCode } from '../errors.js';
import { traced } from '../observe/tracing.js';

/** How far the provider's clock may be from the gateway's for exp, nbf and iat (runtime.clockToleranceSec carries it). */
export const CLOCK_TOLERANCE_SEC = 60;

/** Real ID tokens are a few KB; anything far larger is refused before parsing. */
export const MAX_TOKEN_LENGTH = 16 * 1024;

export interface TokenCheck {
  getKey: JWTVerifyGetKey;
  issuer: string;
  clientId: string;
  /** the provider's advertised asymmetric algorithms */
  algorithms: readonly string[];
  now: number;
  clockToleranceSec: number;
}

export function constantTimeEqual(a: string, b: string): boolean {
  const ab = Buffer.from(a, 'utf8');
  const bb = Buffer.from(b, 'utf8');
  return ab.length === bb.length && timingSafeEqual(ab, bb);
}

function fail(code: ErrorCode, detail: string, cause?: unknown): never {
  throw new GatehouseError(code, detail, cause === undefined ? undefined : { cause });
}

/** jose's error → our code, keeping the cause. */
function translate(error: unknown, prefix: 'GH_ID_TOKEN' | 'GH_LOGOUT_TOKEN'): never {
  if (error instanceof GatehouseError) throw error;
  const asLogout = (code: ErrorCode): ErrorCode => (prefix === 'GH_LOGOUT_TOKEN' ? 'GH_LOGOUT_TOKEN_INVALID' : code);
  if (error instanceof joseErrors.JWTExpired) fail(asLogout('GH_ID_TOKEN_EXPIRED'), 'exp is in the past', error);
  if (error instanceof joseErrors.JWTClaimValidationFailed) {
    const byClaim: Record<string, ErrorCode> = {
      iss: 'GH_ID_TOKEN_ISSUER',
      aud: 'GH_ID_TOKEN_AUDIENCE',
      nbf: 'GH_ID_TOKEN_NOT_YET_VALID',
      iat: 'GH_ID_TOKEN_IAT_FUTURE',
    };
    const code = error.reason === 'missing' ? 'GH_ID_TOKEN_CLAIM_MISSING' : (byClaim[error.claim] ?? 'GH_ID_TOKEN_MALFORMED');
    fail(asLogout(code), `claim ${error.claim}: ${error.reason}`, error);
  }
  if (error instanceof joseErrors.JWSSignatureVerificationFailed) fail(asLogout('GH_ID_TOKEN_SIGNATURE'), 'signature does not verify', error);
  if (error instanceof joseErrors.JOSEAlgNotAllowed) fail(asLogout('GH_ID_TOKEN_ALG'), 'algorithm not allowed', error);
  if (error instanceof joseErrors.JWKSNoMatchingKey)
    fail(asLogout('GH_ID_TOKEN_KID_UNKNOWN'), 'no key in the JWKS matches the token header (after refetch)', error);
  if (error instanceof joseErrors.JWKSMultipleMatchingKeys) fail(asLogout('GH_ID_TOKEN_KID_AMBIGUOUS'), 'no kid and several candidate keys in the JWKS', error);
  if (error instanceof joseErrors.JWKSTimeout || error instanceof joseErrors.JWKSInvalid)
    fail(asLogout('GH_ID_TOKEN_KID_UNKNOWN'), `JWKS unavailable: ${(error as Error).message}`, error);
  if (error instanceof joseErrors.JOSENotSupported) fail(asLogout('GH_ID_TOKEN_ALG'), (error as Error).message, error);
  fail(asLogout('GH_ID_TOKEN_MALFORMED'), (error as Error)?.message ?? 'unparseable token', error);
}

/** Signature, alg, iss, aud, exp, nbf, iat — shared by ID tokens and logout tokens; a span when traced (the key lookup is in it). */
function verifySignedClaims(token: unknown, check: TokenCheck, prefix: 'GH_ID_TOKEN' | 'GH_LOGOUT_TOKEN'): Promise<JWTPayload> {
  return traced(prefix === 'GH_ID_TOKEN' ? 'oidc.id_token' : 'oidc.logout_token', () => checkSignedClaims(token, check, prefix));
}

async function checkSignedClaims(token: unknown, check: TokenCheck, prefix: 'GH_ID_TOKEN' | 'GH_LOGOUT_TOKEN'): Promise<JWTPayload> {
  const malformed: ErrorCode = prefix === 'GH_LOGOUT_TOKEN' ? 'GH_LOGOUT_TOKEN_INVALID' : 'GH_ID_TOKEN_MALFORMED';
  if (typeof token !== 'string' || token.length === 0) fail(malformed, 'token missing');
  if (token.length > MAX_TOKEN_LENGTH) fail(malformed, `token is ${token.length} characters, more than ${MAX_TOKEN_LENGTH}`);
  let header: ProtectedHeaderParameters;
  try {
    header = decodeProtectedHeader(token);
  } catch (error) {
    fail(malformed, 'token header is not valid', error);
  }
  // Checked before jose sees the token: `none`, HMAC and anything not advertised never reach a key lookup.
  if (typeof header.alg !== 'string' || !check.algorithms.includes(header.alg)) {
    fail(
      prefix === 'GH_LOGOUT_TOKEN' ? 'GH_LOGOUT_TOKEN_INVALID' : 'GH_ID_TOKEN_ALG',
      `alg "${String(header.alg)}" is not one of ${check.algorithms.join(', ')}`,
    );
  }
  try {
    const { payload } = await jwtVerify(token, check.getKey, {
      algorithms: [...check.algorithms],
      issuer: check.issuer,
      audience: check.clientId,
      clockTolerance: check.clockToleranceSec,
      currentDate: new Date(check.now),
      requiredClaims: ['iss', 'aud', 'iat'],
    });
    if (typeof payload.iat !== 'number') fail(prefix === 'GH_LOGOUT_TOKEN' ? 'GH_LOGOUT_TOKEN_INVALID' : 'GH_ID_TOKEN_CLAIM_MISSING', 'iat missing');
    if (payload.iat > check.now / 1000 + check.clockToleranceSec) {
      fail(prefix === 'GH_LOGOUT_TOKEN' ? 'GH_LOGOUT_TOKEN_INVALID' : 'GH_ID_TOKEN_IAT_FUTURE', 'iat is in the future');
    }
    return payload;
  } catch (error) {
    translate(error, prefix);
  }
}

/** What every ID token must pass, at sign-in and after a refresh: the signed claims, then azp and exp. */
async function verifyIdTokenClaims(token: unknown, check: TokenCheck): Promise<JWTPayload> {
  const payload = await verifySignedClaims(token, check, 'GH_ID_TOKEN');
  // (3)/(4) several audiences need an azp, and any azp must be us
  if (Array.isArray(payload.aud) && payload.aud.length > 1 && payload.azp === undefined) fail('GH_ID_TOKEN_AZP', 'several audiences and no azp');
  if (payload.azp !== undefined && payload.azp !== check.clientId) fail('GH_ID_TOKEN_AZP', 'azp is not this client');
  if (typeof payload.exp !== 'number') fail('GH_ID_TOKEN_CLAIM_MISSING', 'exp missing');
  return payload;
}

/** OIDC Core 3.1.3.7: validate an ID token from the token endpoint. */
export async function verifyIdToken(token: unknown, check: TokenCheck & { nonce: string }): Promise<JWTPayload & { sub: string }> {
  const payload = await verifyIdTokenClaims(token, check);
  if (typeof payload.sub !== 'string' || payload.sub.length === 0 || payload.sub.length > 255) fail('GH_ID_TOKEN_CLAIM_MISSING', 'sub missing or invalid');
  // (11) the nonce must be the one this login attempt sent
  if (typeof payload.nonce !== 'string' || !constantTimeEqual(payload.nonce, check.nonce)) fail('GH_ID_TOKEN_NONCE', 'nonce does not match the login attempt');
  return payload as JWTPayload & { sub: string };
}

/**
 * OIDC Core 12.2: an ID token from a refresh. iss and aud as at sign-in (checked
 * with the signature), sub MUST be the same, and a nonce — which it SHOULD NOT
 * carry — MUST then equal the original one.
 */
export async function verifyRefreshedIdToken(
  token: unknown,
  check: TokenCheck & { sub: string; originalNonce: string | undefined },
): Promise<JWTPayload & { sub: string }> {
  const payload = await verifyIdTokenClaims(token, check);
  if (typeof payload.sub !== 'string' || !constantTimeEqual(payload.sub, check.sub)) fail('GH_ID_TOKEN_SUB_CHANGED', 'the refreshed ID token has another sub');
  if (
    payload.nonce !== undefined &&
    (typeof payload.nonce !== 'string' || check.originalNonce === undefined || !constantTimeEqual(payload.nonce, check.originalNonce))
  ) {
    fail('GH_ID_TOKEN_NONCE', 'the refreshed ID token carries a nonce other than the original one');
  }
  return payload as JWTPayload & { sub: string };
}

const BACKCHANNEL_EVENT = 'http://schemas.openid.net/event/backchannel-logout';

/** OpenID Connect Back-Channel Logout 1.0, 2.6: validate a logout token. */
export async function verifyLogoutToken(token: unknown, check: TokenCheck): Promise<JWTPayload & { jti: string; sid?: string; sub?: string }> {
  const payload = await verifySignedClaims(token, check, 'GH_LOGOUT_TOKEN');
  const events = payload.events as Record<string, unknown> | undefined;
  if (!events || typeof events !== 'object' || typeof events[BACKCHANNEL_EVENT] !== 'object' || events[BACKCHANNEL_EVENT] === null) {
    fail('GH_LOGOUT_TOKEN_INVALID', 'no back-channel logout event');
  }
  if ('nonce' in payload) fail('GH_LOGOUT_TOKEN_INVALID', 'a logout token must not contain a nonce');
  if (typeof payload.jti !== 'string' || payload.jti.length === 0) fail('GH_LOGOUT_TOKEN_INVALID', 'jti missing');
  const hasSid = typeof payload.sid === 'string' && payload.sid.length > 0;
  const hasSub = typeof payload.sub === 'string' && payload.sub.length > 0;
  if (!hasSid && !hasSub) fail('GH_LOGOUT_TOKEN_INVALID', 'neither sid nor sub');
  return payload as JWTPayload & { jti: string; sid?: string; sub?: string };
}
