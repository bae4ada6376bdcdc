// The ID token expired (beyond the clock tolerance) — a token replayed from an
// old sign-in, or a provider with a wrong clock — or has no `exp` at all.
// Gatehouse must answer GH_ID_TOKEN_EXPIRED (502), and GH_ID_TOKEN_CLAIM_MISSING
// (502) without exp.
import t from 'tap';
import { startHostileStack, expectSignInRefused } from '../helpers/hostile-provider.js';

t.test('expired ID token', async (t) => {
  const stack = await startHostileStack();
  t.teardown(() => stack.close());
  for (const ago of [5 * 60, 30 * 24 * 3600]) {
    stack.provider.forgeIdToken = (ctx) => ctx.sign({ ...ctx.claims, iat: (ctx.claims.iat as number) - ago - 300, exp: (ctx.claims.iat as number) - ago });
    await expectSignInRefused(t, stack, 'GH_ID_TOKEN_EXPIRED', { label: `expired ${ago}s ago` });
  }
});

t.test('ID token without exp', async (t) => {
  const stack = await startHostileStack();
  t.teardown(() => stack.close());
  stack.provider.forgeIdToken = (ctx) => {
    const { exp: _drop, ...claims } = ctx.claims;
    return ctx.sign(claims);
  };
  await expectSignInRefused(t, stack, 'GH_ID_TOKEN_CLAIM_MISSING');
});
