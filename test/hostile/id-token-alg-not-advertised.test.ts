// The provider advertises only RS256 in id_token_signing_alg_values_supported,
// yet its JWKS also holds an EC and an Ed25519 key (published for another use),
// and the ID token is signed with one of those. Only the algorithms the provider
// advertises may sign ID tokens — the token picks nothing. Gatehouse must answer
// GH_ID_TOKEN_ALG (502).
import t from 'tap';
import { startHostileStack, expectSignInRefused, signInVia } from '../helpers/hostile-provider.js';

t.test('an ID token signed with an algorithm the provider does not advertise', async (t) => {
  const stack = await startHostileStack({
    beforeGateway: (p) => {
      p.discoveryOverrides = { id_token_signing_alg_values_supported: ['RS256'] };
    },
  });
  t.teardown(() => stack.close());
  for (const alg of ['ES256', 'EdDSA'] as const) {
    stack.provider.forgeIdToken = (ctx) => ctx.sign(ctx.claims, { alg });
    await expectSignInRefused(t, stack, 'GH_ID_TOKEN_ALG', { label: alg });
  }
  stack.provider.forgeIdToken = null;
  t.equal((await signInVia(stack)).callback.status, 302, 'RS256, as advertised, signs in');
});
