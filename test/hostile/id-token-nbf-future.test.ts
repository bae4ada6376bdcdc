// The ID token carries `nbf` beyond the clock tolerance in the future: it is
// not valid yet. Gatehouse must answer GH_ID_TOKEN_NOT_YET_VALID (502).
import t from 'tap';
import { startHostileStack, expectSignInRefused } from '../helpers/hostile-provider.js';

t.test('nbf in the future', async (t) => {
  const stack = await startHostileStack();
  t.teardown(() => stack.close());
  stack.provider.forgeIdToken = (ctx) => ctx.sign({ ...ctx.claims, nbf: (ctx.claims.iat as number) + 600 });
  await expectSignInRefused(t, stack, 'GH_ID_TOKEN_NOT_YET_VALID');
});
