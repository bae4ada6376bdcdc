// The provider returns an unsigned ID token (`alg: none`, empty signature, also
// spelled "None" and "NONE"). Gatehouse must answer GH_ID_TOKEN_ALG (502): only
// the asymmetric algorithms the provider advertises are ever accepted.
import t from 'tap';
import { startHostileStack, expectSignInRefused, rawJws } from '../helpers/hostile-provider.js';

t.test('unsigned ID tokens are refused', async (t) => {
  const stack = await startHostileStack();
  t.teardown(() => stack.close());
  for (const alg of ['none', 'None', 'NONE', 'nOnE']) {
    stack.provider.forgeIdToken = (ctx) => rawJws({ alg, typ: 'JWT' }, ctx.claims);
    await expectSignInRefused(t, stack, 'GH_ID_TOKEN_ALG', { label: `alg ${alg}` });
  }
  // the provider even advertises "none": still refused
  stack.provider.discoveryOverrides = { id_token_signing_alg_values_supported: ['none', 'RS256'] };
  await stack.gateway.gw.runtime.realms.get('agent')!.provider.refreshKeys();
  stack.provider.forgeIdToken = (ctx) => rawJws({ alg: 'none' }, ctx.claims);
  await expectSignInRefused(t, stack, 'GH_ID_TOKEN_ALG', { label: 'none advertised' });
});
