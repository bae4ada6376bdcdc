// The ID token's `nonce` is not the one this login attempt sent: another
// attempt's nonce (a token replayed into a new sign-in), a made-up value, a
// prefix of the right one, or none at all. OIDC Core 3.1.3.7 (11).
// Gatehouse must answer GH_ID_TOKEN_NONCE (502).
import t from 'tap';
import { startHostileStack, expectSignInRefused } from '../helpers/hostile-provider.js';

t.test('wrong or missing nonce', async (t) => {
  const stack = await startHostileStack();
  t.teardown(() => stack.close());
  let previousNonce: string | undefined;
  const variants: Array<[string, (nonce: string) => unknown]> = [
    ['made up', () => 'n-0S6_WzA2Mj'],
    ['a prefix of the right one', (n) => n.slice(0, 20)],
    ['the right one plus more', (n) => `${n}x`],
    ["another attempt's nonce", () => previousNonce],
    ['a number', () => 1],
    ['absent', () => undefined],
  ];
  for (const [label, make] of variants) {
    stack.provider.forgeIdToken = (ctx) => {
      const nonce = make(ctx.grant.nonce!);
      previousNonce = ctx.grant.nonce;
      const claims: Record<string, unknown> = { ...ctx.claims };
      if (nonce === undefined) delete claims.nonce;
      else claims.nonce = nonce;
      return ctx.sign(claims);
    };
    await expectSignInRefused(t, stack, 'GH_ID_TOKEN_NONCE', { label });
  }
});
