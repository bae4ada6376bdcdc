// The token endpoint answers the agent client's code with an ID token minted for
// another client (aud and azp = the user realm's client), correctly signed and
// with the right nonce — a confused or malicious provider. Gatehouse must answer
// GH_ID_TOKEN_AUDIENCE (502).
import t from 'tap';
import { startHostileStack, expectSignInRefused } from '../helpers/hostile-provider.js';

t.test('an ID token for another client', async (t) => {
  const stack = await startHostileStack();
  t.teardown(() => stack.close());
  stack.provider.forgeIdToken = (ctx) => ctx.sign({ ...ctx.claims, aud: 'hostile-user', azp: 'hostile-user' });
  await expectSignInRefused(t, stack, 'GH_ID_TOKEN_AUDIENCE');
  // the other way round: the user realm's callback gets the agent client's token
  stack.provider.forgeIdToken = (ctx) => ctx.sign({ ...ctx.claims, aud: 'hostile-agent' });
  await expectSignInRefused(t, stack, 'GH_ID_TOKEN_AUDIENCE', { path: '/tickets', label: 'user realm' });
});
