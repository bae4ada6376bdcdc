// The ID token has no `iat`, or an `iat` beyond the clock tolerance in the
// future (a token minted ahead for later use). OIDC Core 3.1.3.7 (10).
// Gatehouse must answer GH_ID_TOKEN_CLAIM_MISSING (502) and
// GH_ID_TOKEN_IAT_FUTURE (502).
import t from 'tap';
import { startHostileStack, expectSignInRefused } from '../helpers/hostile-provider.js';

t.test('missing iat', async (t) => {
  const stack = await startHostileStack();
  t.teardown(() => stack.close());
  stack.provider.forgeIdToken = (ctx) => {
    const { iat: _drop, ...claims } = ctx.claims;
    return ctx.sign(claims);
  };
  await expectSignInRefused(t, stack, 'GH_ID_TOKEN_CLAIM_MISSING');
});

t.test('iat in the future', async (t) => {
  const stack = await startHostileStack();
  t.teardown(() => stack.close());
  for (const ahead of [5 * 60, 24 * 3600]) {
    stack.provider.forgeIdToken = (ctx) => ctx.sign({ ...ctx.claims, iat: (ctx.claims.iat as number) + ahead, exp: (ctx.claims.exp as number) + ahead });
    await expectSignInRefused(t, stack, 'GH_ID_TOKEN_IAT_FUTURE', { label: `${ahead}s ahead` });
  }
});
