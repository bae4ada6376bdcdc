// The ID token has several audiences (this client among them) but no `azp`, or
// an `azp` naming another client. OIDC Core 3.1.3.7 (4)/(5): with several
// audiences the token must say it was issued to us. Gatehouse must answer
// GH_ID_TOKEN_AZP (502). One audience with a correct azp is fine.
import t from 'tap';
import { startHostileStack, expectSignInRefused, signInVia } from '../helpers/hostile-provider.js';

t.test('several audiences and no azp, or a wrong azp', async (t) => {
  const stack = await startHostileStack();
  t.teardown(() => stack.close());
  const cases: Array<[string, Record<string, unknown>]> = [
    ['several audiences, no azp', { aud: ['hostile-agent', 'hostile-user'] }],
    ['several audiences, azp of the other client', { aud: ['hostile-agent', 'hostile-user'], azp: 'hostile-user' }],
    ['one audience, azp of another client', { aud: 'hostile-agent', azp: 'hostile-user' }],
    ['several audiences, empty azp', { aud: ['hostile-agent', 'hostile-user'], azp: '' }],
  ];
  for (const [label, change] of cases) {
    stack.provider.forgeIdToken = (ctx) => ctx.sign({ ...ctx.claims, ...change });
    await expectSignInRefused(t, stack, 'GH_ID_TOKEN_AZP', { label });
  }
});

t.test('several audiences with azp = this client is accepted', async (t) => {
  const stack = await startHostileStack();
  t.teardown(() => stack.close());
  stack.provider.forgeIdToken = (ctx) => ctx.sign({ ...ctx.claims, aud: ['hostile-agent', 'api'], azp: 'hostile-agent' });
  const { callback } = await signInVia(stack);
  t.equal(callback.status, 302);
});
