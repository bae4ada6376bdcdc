/**
 * The ID token and logout token checks. The signature is checked against the
 * provider's JWKS (jose finds the key) with an explicit algorithm allow-list;
 * the claim checks follow in a fixed order (presence, equality, time) as OIDC
 * Core 3.1.3.7 lists them, jose's own (validateClaimsSet, through
 * UnsecuredJWT.decode once the signature is known good). jose's errors are
 * translated here, once, into GH_ID_TOKEN_* codes; nothing above this module
 * imports jose's error classes.
 *
 * Why node:crypto for the signature itself: jose verifies through WebCrypto,
 * whose job machinery cost a sign-in more CPU than anything else Gatehouse does
 * in it (bench/profile.mjs --row signin: a fifth of the callback's samples);
 * crypto.verify with the same key, synchronously, costs a fraction of that.
 */
import { KeyObject, timingSafeEqual, verify as verifySignature, constants as cryptoConstants } from 'node:crypto';
import { decodeProtectedHeader, UnsecuredJWT, errors as joseErrors, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import { GatehouseError, type ErrorCode } from '../errors.js';

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
    const byClaim: Record<string, ErrorCode> = { iss: 'GH_ID_TOKEN_ISSUER', aud: 'GH_ID_TOKEN_AUDIENCE', nbf: 'GH_ID_TOKEN_NOT_YET_VALID', iat: 'GH_ID_TOKEN_IAT_FUTURE' };
    const code = error.reason === 'missing' ? 'GH_ID_TOKEN_CLAIM_MISSING' : (byClaim[error.claim] ?? 'GH_ID_TOKEN_MALFORMED');
    fail(asLogout(code), `claim ${error.claim}: ${error.reason}`, error);
  }
  if (error instanceof joseErrors.JWSSignatureVerificationFailed) fail(asLogout('GH_ID_TOKEN_SIGNATURE'), 'signature does not verify', error);
  if (error instanceof joseErrors.JOSEAlgNotAllowed) fail(asLogout('GH_ID_TOKEN_ALG'), 'algorithm not allowed', error);
  if (error instanceof joseErrors.JWKSNoMatchingKey) fail(asLogout('GH_ID_TOKEN_KID_UNKNOWN'), 'no key in the JWKS matches the token header (after refetch)', error);
  if (error instanceof joseErrors.JWKSMultipleMatchingKeys) fail(asLogout('GH_ID_TOKEN_KID_AMBIGUOUS'), 'no kid and several candidate keys in the JWKS', error);
  if (error instanceof joseErrors.JWKSTimeout || error instanceof joseErrors.JWKSInvalid) fail(asLogout('GH_ID_TOKEN_KID_UNKNOWN'), `JWKS unavailable: ${(error as Error).message}`, error);
  if (error instanceof joseErrors.JOSENotSupported) fail(asLogout('GH_ID_TOKEN_ALG'), (error as Error).message, error);
  fail(asLogout('GH_ID_TOKEN_MALFORMED'), (error as Error)?.message ?? 'unparseable token', error);
}

const BASE64URL = /^[A-Za-z0-9_-]+$/;
const UNSECURED_HEADER = Buffer.from('{"alg":"none"}').toString('base64url');

/** How node:crypto checks each JWS algorithm (RFC 7518 3, RFC 8037), and the key it takes. */
const JWS_ALGORITHMS: Record<string, { hash: string | null; keyType: string[]; curve?: string; pss?: number; ecdsa?: true }> = {
  RS256: { hash: 'sha256', keyType: ['rsa', 'rsa-pss'] },
  RS384: { hash: 'sha384', keyType: ['rsa', 'rsa-pss'] },
  RS512: { hash: 'sha512', keyType: ['rsa', 'rsa-pss'] },
  PS256: { hash: 'sha256', keyType: ['rsa', 'rsa-pss'], pss: 32 },
  PS384: { hash: 'sha384', keyType: ['rsa', 'rsa-pss'], pss: 48 },
  PS512: { hash: 'sha512', keyType: ['rsa', 'rsa-pss'], pss: 64 },
  ES256: { hash: 'sha256', keyType: ['ec'], curve: 'prime256v1', ecdsa: true },
  ES384: { hash: 'sha384', keyType: ['ec'], curve: 'secp384r1', ecdsa: true },
  ES512: { hash: 'sha512', keyType: ['ec'], curve: 'secp521r1', ecdsa: true },
  EdDSA: { hash: null, keyType: ['ed25519', 'ed448'] },
  Ed25519: { hash: null, keyType: ['ed25519'] },
};

/** The provider's keys as jose imported them (WebCrypto keys), as node:crypto key objects, converted once. */
const keyObjects = new WeakMap<object, KeyObject>();

/** Does `signature` sign `input` under `key` with `alg`? Throws for a key that does not fit the algorithm. */
function verifyJws(alg: string, key: unknown, input: string, signature: Buffer): boolean {
  const how = JWS_ALGORITHMS[alg];
  if (how === undefined) throw new joseErrors.JOSENotSupported(`alg ${alg} is not supported`);
  if (key === null || typeof key !== 'object' || key instanceof Uint8Array) throw new joseErrors.JOSENotSupported('no asymmetric key for this token');
  let keyObject = keyObjects.get(key);
  if (keyObject === undefined) {
    keyObject = key instanceof KeyObject ? key : KeyObject.from(key as Parameters<typeof KeyObject.from>[0]);
    keyObjects.set(key, keyObject);
  }
  // what jose checks of a key before it verifies: its type and curve fit the algorithm, RSA of 2048 bits at least
  const details = keyObject.asymmetricKeyDetails;
  if (keyObject.type !== 'public' || !how.keyType.includes(keyObject.asymmetricKeyType ?? '')) throw new joseErrors.JOSENotSupported(`the key does not fit alg ${alg}`);
  if (how.curve !== undefined && details?.namedCurve !== how.curve) throw new joseErrors.JOSENotSupported(`the key's curve does not fit alg ${alg}`);
  if (how.keyType[0] === 'rsa' && (details?.modulusLength ?? 0) < 2048) throw new joseErrors.JOSENotSupported('RSA keys must be 2048 bits or more');
  const options =
    how.pss !== undefined
      ? { key: keyObject, padding: cryptoConstants.RSA_PKCS1_PSS_PADDING, saltLength: how.pss }
      : how.ecdsa
        ? { key: keyObject, dsaEncoding: 'ieee-p1363' as const }
        : keyObject;
  try {
    return verifySignature(how.hash, Buffer.from(input, 'latin1'), options, signature);
  } catch {
    return false;
  }
}

/** Signature, alg, iss, aud, exp, nbf, iat — shared by ID tokens and logout tokens. */
async function verifySignedClaims(token: unknown, check: TokenCheck, prefix: 'GH_ID_TOKEN' | 'GH_LOGOUT_TOKEN'): Promise<JWTPayload> {
  const malformed: ErrorCode = prefix === 'GH_LOGOUT_TOKEN' ? 'GH_LOGOUT_TOKEN_INVALID' : 'GH_ID_TOKEN_MALFORMED';
  if (typeof token !== 'string' || token.length === 0) fail(malformed, 'token missing');
  if (token.length > MAX_TOKEN_LENGTH) fail(malformed, `token is ${token.length} characters, more than ${MAX_TOKEN_LENGTH}`);
  let header;
  try {
    header = decodeProtectedHeader(token);
  } catch (error) {
    fail(malformed, 'token header is not valid', error);
  }
  // Checked before jose sees the token: `none`, HMAC and anything not advertised never reach a key lookup.
  if (typeof header.alg !== 'string' || !check.algorithms.includes(header.alg)) {
    fail(prefix === 'GH_LOGOUT_TOKEN' ? 'GH_LOGOUT_TOKEN_INVALID' : 'GH_ID_TOKEN_ALG', `alg "${String(header.alg)}" is not one of ${check.algorithms.join(', ')}`);
  }
  try {
    const parts = token.split('.');
    if (parts.length !== 3 || !parts.every((part) => BASE64URL.test(part))) throw new joseErrors.JWSInvalid('not a compact JWS');
    // a critical header extension we do not implement (b64: false among them) refuses the token, as jose does
    if (header.crit !== undefined) throw new joseErrors.JOSENotSupported('the token header names critical extensions');
    const key = await check.getKey(header as Parameters<JWTVerifyGetKey>[0], { payload: parts[1]!, signature: parts[2]! });
    if (!verifyJws(header.alg, key, `${parts[0]}.${parts[1]}`, Buffer.from(parts[2]!, 'base64url'))) throw new joseErrors.JWSSignatureVerificationFailed();
    // the signature holds: jose's claim checks on the payload, exactly as jwtVerify runs them
    const { payload } = UnsecuredJWT.decode(`${UNSECURED_HEADER}.${parts[1]}.`, {
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

/** OIDC Core 3.1.3.7: validate an ID token from the token endpoint. */
export async function verifyIdToken(token: unknown, check: TokenCheck & { nonce: string }): Promise<JWTPayload & { sub: string }> {
  const payload = await verifySignedClaims(token, check, 'GH_ID_TOKEN');
  // (3)/(4) several audiences need an azp, and any azp must be us
  if (Array.isArray(payload.aud) && payload.aud.length > 1 && payload.azp === undefined) fail('GH_ID_TOKEN_AZP', 'several audiences and no azp');
  if (payload.azp !== undefined && payload.azp !== check.clientId) fail('GH_ID_TOKEN_AZP', 'azp is not this client');
  if (typeof payload.exp !== 'number') fail('GH_ID_TOKEN_CLAIM_MISSING', 'exp missing');
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
export async function verifyRefreshedIdToken(token: unknown, check: TokenCheck & { sub: string; originalNonce: string | undefined }): Promise<JWTPayload & { sub: string }> {
  const payload = await verifySignedClaims(token, check, 'GH_ID_TOKEN');
  if (Array.isArray(payload.aud) && payload.aud.length > 1 && payload.azp === undefined) fail('GH_ID_TOKEN_AZP', 'several audiences and no azp');
  if (payload.azp !== undefined && payload.azp !== check.clientId) fail('GH_ID_TOKEN_AZP', 'azp is not this client');
  if (typeof payload.exp !== 'number') fail('GH_ID_TOKEN_CLAIM_MISSING', 'exp missing');
  if (typeof payload.sub !== 'string' || !constantTimeEqual(payload.sub, check.sub)) fail('GH_ID_TOKEN_SUB_CHANGED', 'the refreshed ID token has another sub');
  if (payload.nonce !== undefined && (typeof payload.nonce !== 'string' || check.originalNonce === undefined || !constantTimeEqual(payload.nonce, check.originalNonce))) {
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
