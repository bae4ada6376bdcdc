// The ID token has no `sub` (or an empty one, a number, or one longer than
// OIDC's 255 ASCII characters): there is nobody to sign in. Gatehouse must
// answer GH_ID_TOKEN_CLAIM_MISSING (502).
import t from 'tap';
import { startHostileStack, expectSignInRefused } from '../helpers/hostile-provider.js';

t.test('missing or unusable sub', async (t) => {
  const stack = await startHostileStack();
  t.teardown(() => stack.close());
  const variants: Array<[string, unknown]> = [
    ['absent', undefined],
    ['empty', ''],
    ['a number', 42],
    ['an object', { id: 'x' }],
    ['256 characters', 'x'.repeat(256)],
  ];
  for (const [label, sub] of variants) {
    stack.provider.forgeIdToken = (ctx) => {
      const claims: Record<string, unknown> = { ...ctx.claims };
      if (sub === undefined) delete claims.sub;
      else claims.sub = sub;
      return ctx.sign(claims);
    };
    await expectSignInRefused(t, stack, 'GH_ID_TOKEN_CLAIM_MISSING', { label });
  }
});
