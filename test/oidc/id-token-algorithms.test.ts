// The ID token's signature is checked with node:crypto (src/oidc/id-token.ts says
// why), the key found by jose in the provider's JWKS: every algorithm a provider
// may advertise verifies when it should and refuses a changed signature, a
// changed payload, and a key of the wrong type or curve.
import t from 'tap';
import { SignJWT, createLocalJWKSet, exportJWK, generateKeyPair, type JWK } from 'jose';
import { verifyIdToken } from '../../src/oidc/id-token.js';
import { GatehouseError } from '../../src/errors.js';

const ISSUER = 'https://provider.example';
const CLIENT = 'client-1';
const NOW = Date.UTC(2026, 0, 1);

async function fixture(alg: string, options: Record<string, unknown> = {}) {
  const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true, ...options });
  const jwk: JWK = { ...(await exportJWK(publicKey)), kid: `k-${alg}`, alg, use: 'sig' };
  const token = await new SignJWT({ nonce: 'n-1', email: 'a@example.com' })
    .setProtectedHeader({ alg, kid: jwk.kid! })
    .setIssuer(ISSUER)
    .setAudience(CLIENT)
    .setSubject('user-1')
    .setIssuedAt(Math.floor(NOW / 1000))
    .setExpirationTime(Math.floor(NOW / 1000) + 300)
    .sign(privateKey);
  return { jwk, token };
}

const check = (jwks: JWK[], alg: string) => ({ getKey: createLocalJWKSet({ keys: jwks }), issuer: ISSUER, clientId: CLIENT, algorithms: [alg], now: NOW, clockToleranceSec: 30, nonce: 'n-1' });

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return 'verified';
  } catch (error) {
    return error instanceof GatehouseError ? error.code : `not a GatehouseError: ${(error as Error).message}`;
  }
}

for (const [alg, options] of [['RS256', {}], ['RS512', {}], ['PS256', {}], ['PS384', {}], ['ES256', {}], ['ES384', {}], ['ES512', {}], ['EdDSA', { crv: 'Ed25519' }]] as const) {
  t.test(alg, async (t) => {
    const { jwk, token } = await fixture(alg, options);
    const payload = await verifyIdToken(token, check([jwk], alg));
    t.equal(payload.sub, 'user-1', 'a good token verifies');
    t.equal(payload.email, 'a@example.com');
    const [h, p, s] = token.split('.') as [string, string, string];
    const flipped = `${s.slice(0, 10)}${s[10] === 'A' ? 'B' : 'A'}${s.slice(11)}`;
    t.equal(await codeOf(verifyIdToken(`${h}.${p}.${flipped}`, check([jwk], alg))), 'GH_ID_TOKEN_SIGNATURE', 'a changed signature is refused');
    const otherPayload = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(p, 'base64url').toString()), sub: 'someone-else' })).toString('base64url');
    t.equal(await codeOf(verifyIdToken(`${h}.${otherPayload}.${s}`, check([jwk], alg))), 'GH_ID_TOKEN_SIGNATURE', 'a changed payload is refused');
    t.equal(await codeOf(verifyIdToken(`${h}.${p}.`, check([jwk], alg))), 'GH_ID_TOKEN_MALFORMED', 'an empty signature is refused');
    t.equal(await codeOf(verifyIdToken(`${h}.${p}.${s}.`, check([jwk], alg))), 'GH_ID_TOKEN_MALFORMED', 'four parts are refused');
  });
}

t.test('a key of another curve under the same kid is refused', async (t) => {
  const { token } = await fixture('ES256');
  const other = await generateKeyPair('ES384', { extractable: true });
  const jwk: JWK = { ...(await exportJWK(other.publicKey)), kid: 'k-ES256', use: 'sig' };
  t.not(await codeOf(verifyIdToken(token, check([jwk], 'ES256'))), 'verified');
});

t.test('a critical header extension is refused', async (t) => {
  const { publicKey, privateKey } = await generateKeyPair('ES256', { extractable: true });
  const jwk: JWK = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256' };
  const token = await new SignJWT({ nonce: 'n-1' })
    .setProtectedHeader({ alg: 'ES256', kid: 'k1', crit: ['exp-ext'], 'exp-ext': 1 } as never)
    .setIssuer(ISSUER)
    .setAudience(CLIENT)
    .setSubject('user-1')
    .setIssuedAt(Math.floor(NOW / 1000))
    .setExpirationTime(Math.floor(NOW / 1000) + 300)
    .sign(privateKey, { crit: { 'exp-ext': true } });
  t.equal(await codeOf(verifyIdToken(token, check([jwk], 'ES256'))), 'GH_ID_TOKEN_ALG');
});
