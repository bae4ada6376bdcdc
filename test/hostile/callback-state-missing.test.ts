// The authorization response comes back without `state` (or with it twice, so
// that no single value can be trusted). Gatehouse must answer GH_STATE_MISSING
// (400) and never redeem the code: the token endpoint is not called.
import t from 'tap';
import { startHostileStack, expectSignInRefused } from '../helpers/hostile-provider.js';

t.test('no state in the authorization response', async (t) => {
  const stack = await startHostileStack();
  t.teardown(() => stack.close());
  stack.provider.onAuthorize = ({ state: _drop, ...rest }) => rest;
  await expectSignInRefused(t, stack, 'GH_STATE_MISSING');
  stack.provider.onAuthorize = (params) => ({ ...params, state: '' });
  await expectSignInRefused(t, stack, 'GH_STATE_MISSING', { label: 'empty state' });
  t.equal(stack.provider.counts.token, 0, 'the code was never redeemed');
});

t.test('state given twice', async (t) => {
  const stack = await startHostileStack();
  t.teardown(() => stack.close());
  const { beginSignIn, authorizeAt, arriveAtCallback, errorCode } = await import('../helpers/hostile-provider.js');
  const { jar, authorizeUrl } = await beginSignIn(stack);
  const callback = new URL(await authorizeAt(authorizeUrl));
  callback.searchParams.append('state', callback.searchParams.get('state')!);
  const answer = await arriveAtCallback(callback.href, jar);
  t.equal(answer.status, 400);
  t.equal(errorCode(answer), 'GH_STATE_MISSING');
  t.equal(stack.provider.counts.token, 0);
});
