// Algorithm confusion: the ID token says HS256 and is "signed" with the
// provider's public key (PEM and JWK forms) as the HMAC secret, under the real
// kid. A verifier that lets the token pick the algorithm would accept it.
// Gatehouse must answer GH_ID_TOKEN_ALG (502).
import t from 'tap';
import { createHmac } from 'node:crypto';
import { exportSPKI } from 'jose';
import { startHostileStack, expectSignInRefused, rawJws } from '../helpers/hostile-provider.js';

function hmacJws(alg: 'HS256' | 'HS384' | 'HS512', kid: string, claims: Record<string, unknown>, secret: string): string {
  const unsigned = rawJws({ alg, kid, typ: 'JWT' }, claims).slice(0, -1);
  const hash = { HS256: 'sha256', HS384: 'sha384', HS512: 'sha512' }[alg];
  return `${unsigned}.${createHmac(hash, secret).update(unsigned).digest('base64url')}`;
}

t.test("HMAC ID tokens keyed with the provider's public key are refused", async (t) => {
  const stack = await startHostileStack();
  t.teardown(() => stack.close());
  const rsa = stack.provider.keys.RS256;
  const pem = await exportSPKI(rsa.publicKey);
  const secrets = { pem, 'jwk json': JSON.stringify(rsa.publicJwk), 'modulus n': String(rsa.publicJwk.n) };
  for (const [form, secret] of Object.entries(secrets)) {
    for (const alg of ['HS256', 'HS384', 'HS512'] as const) {
      stack.provider.forgeIdToken = (ctx) => hmacJws(alg, rsa.kid, ctx.claims, secret);
      await expectSignInRefused(t, stack, 'GH_ID_TOKEN_ALG', { label: `${alg} with the ${form}` });
    }
  }
  // also when the provider (wrongly) advertises HS256
  stack.provider.discoveryOverrides = { id_token_signing_alg_values_supported: ['HS256', 'RS256'] };
  stack.provider.forgeIdToken = (ctx) => hmacJws('HS256', rsa.kid, ctx.claims, pem);
  await expectSignInRefused(t, stack, 'GH_ID_TOKEN_ALG', { label: 'HS256 advertised' });
});
