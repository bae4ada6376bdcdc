// The authorization response carries a `state` this browser never sent: a
// well-formed random one, one of another shape, or the right one altered.
// Gatehouse must answer GH_STATE_MISMATCH (400) before the code is redeemed (the
// token endpoint is not called).
import t from 'tap';
import { randomBytes } from 'node:crypto';
import { startHostileStack, expectSignInRefused } from '../helpers/hostile-provider.js';

t.test('a state no login attempt of this browser has', async (t) => {
  const stack = await startHostileStack();
  t.teardown(() => stack.close());
  const variants: Array<[string, (state: string) => string]> = [
    ['random, well-formed', () => randomBytes(32).toString('base64url')],
    ['same cookie prefix, different tail', (s) => s.slice(0, 20) + randomBytes(17).toString('base64url').slice(0, 23)],
    ['short', () => 'abc'],
    ['path characters', () => '../../__Host-gatehouse-agent'],
    ['right one, last char changed', (s) => s.slice(0, -1) + (s.endsWith('A') ? 'B' : 'A')],
  ];
  for (const [label, change] of variants) {
    stack.provider.onAuthorize = (params) => ({ ...params, state: change(params.state!) });
    await expectSignInRefused(t, stack, 'GH_STATE_MISMATCH', { label });
  }
  t.equal(stack.provider.counts.token, 0, 'no code was redeemed');
});
