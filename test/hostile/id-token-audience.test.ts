// The ID token's `aud` does not contain this client (another client, a list of
// other clients, a prefix of the client id) or is missing. OIDC Core 3.1.3.7 (3).
// Gatehouse must answer GH_ID_TOKEN_AUDIENCE (502), or GH_ID_TOKEN_CLAIM_MISSING
// (502) when aud is absent.
import t from 'tap';
import { startHostileStack, expectSignInRefused } from '../helpers/hostile-provider.js';

t.test('aud without this client', async (t) => {
  const stack = await startHostileStack();
  t.teardown(() => stack.close());
  for (const aud of ['hostile-user', ['hostile-user', 'other'], 'hostile-agen', 'HOSTILE-AGENT', ['hostile-agent-x']]) {
    stack.provider.forgeIdToken = (ctx) => ctx.sign({ ...ctx.claims, aud });
    await expectSignInRefused(t, stack, 'GH_ID_TOKEN_AUDIENCE', { label: JSON.stringify(aud) });
  }
});

t.test('missing aud', async (t) => {
  const stack = await startHostileStack();
  t.teardown(() => stack.close());
  stack.provider.forgeIdToken = (ctx) => {
    const { aud: _drop, ...claims } = ctx.claims;
    return ctx.sign(claims);
  };
  await expectSignInRefused(t, stack, 'GH_ID_TOKEN_CLAIM_MISSING');
});
