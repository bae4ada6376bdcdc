// The provider's token endpoint returns an ID token whose signature does not
// verify: signed by an attacker's key of the same type under the provider's kid,
// or with the payload changed after signing. For RS256, ES256 and EdDSA alike,
// Gatehouse must answer GH_ID_TOKEN_SIGNATURE (502) and start no session.
import t from 'tap';
import { startHostileStack, expectSignInRefused, newSigningKey, type KeyAlg } from '../helpers/hostile-provider.js';

t.test("an ID token signed by a key that is not the provider's", async (t) => {
  const stack = await startHostileStack();
  t.teardown(() => stack.close());
  for (const alg of ['RS256', 'ES256', 'EdDSA'] as KeyAlg[]) {
    const attacker = await newSigningKey(alg, stack.provider.keys[alg].kid); // same kid as the real key
    stack.provider.forgeIdToken = (ctx) => ctx.sign(ctx.claims, { key: attacker });
    await expectSignInRefused(t, stack, 'GH_ID_TOKEN_SIGNATURE', { label: `${alg} foreign key` });
  }
});

t.test('an ID token whose payload was changed after signing', async (t) => {
  const stack = await startHostileStack();
  t.teardown(() => stack.close());
  for (const alg of ['RS256', 'ES256', 'EdDSA'] as KeyAlg[]) {
    stack.provider.forgeIdToken = async (ctx) => {
      const [header, , signature] = (await ctx.sign(ctx.claims, { alg })).split('.');
      const payload = Buffer.from(JSON.stringify({ ...ctx.claims, sub: 'admin' })).toString('base64url');
      return `${header}.${payload}.${signature}`;
    };
    await expectSignInRefused(t, stack, 'GH_ID_TOKEN_SIGNATURE', { label: `${alg} payload swapped` });
  }
});
