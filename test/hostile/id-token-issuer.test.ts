// The ID token's `iss` is another issuer (a look-alike URL, the issuer without
// its trailing slash, another case) or absent. OIDC Core 3.1.3.7 (2): iss must
// exactly match. Gatehouse must answer GH_ID_TOKEN_ISSUER (502) for a wrong iss
// and GH_ID_TOKEN_CLAIM_MISSING (502) for a missing one.
import t from 'tap';
import { startHostileStack, expectSignInRefused } from '../helpers/hostile-provider.js';

t.test('wrong iss', async (t) => {
  const stack = await startHostileStack();
  t.teardown(() => stack.close());
  const real = stack.provider.issuer;
  for (const iss of ['https://evil.example/', real.replace(/\/$/, ''), real.toUpperCase(), `${real}x`, real.replace('127.0.0.1', 'localhost')]) {
    stack.provider.forgeIdToken = (ctx) => ctx.sign({ ...ctx.claims, iss });
    await expectSignInRefused(t, stack, 'GH_ID_TOKEN_ISSUER', { label: iss });
  }
  stack.provider.forgeIdToken = (ctx) => ctx.sign({ ...ctx.claims, iss: [real] });
  await expectSignInRefused(t, stack, 'GH_ID_TOKEN_ISSUER', { label: 'iss as an array' });
});

t.test('missing iss', async (t) => {
  const stack = await startHostileStack();
  t.teardown(() => stack.close());
  stack.provider.forgeIdToken = (ctx) => {
    const { iss: _drop, ...claims } = ctx.claims;
    return ctx.sign(claims);
  };
  await expectSignInRefused(t, stack, 'GH_ID_TOKEN_CLAIM_MISSING');
});
