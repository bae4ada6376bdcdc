// Code injection: a code issued for one login attempt (stolen from another
// browser) is put into a different attempt's callback. A provider that checks
// PKCE refuses it (GH_TOKEN_REQUEST_FAILED, 502); a lax provider that skips PKCE
// returns an ID token carrying the other attempt's nonce, which Gatehouse must
// refuse with GH_ID_TOKEN_NONCE (502). Either way nobody is signed in.
import t from 'tap';
import { startHostileStack, beginSignIn, authorizeAt, arriveAtCallback, errorCode, fetchAsScript, type HostileStack } from '../helpers/hostile-provider.js';

type Asserts = { equal(found: unknown, wanted: unknown, message?: string): unknown };

async function injectStolenCode(t: Asserts, stack: HostileStack, expected: string): Promise<void> {
  const victim = await beginSignIn(stack);
  const stolenCode = new URL(await authorizeAt(victim.authorizeUrl)).searchParams.get('code')!;
  const attacker = await beginSignIn(stack);
  const own = new URL(await authorizeAt(attacker.authorizeUrl));
  own.searchParams.set('code', stolenCode);
  const answer = await arriveAtCallback(own.href, attacker.jar);
  t.equal(answer.status, 502);
  t.equal(errorCode(answer), expected);
  t.equal((await fetchAsScript(stack, '/agent/', attacker.jar)).status, 401, 'the attacker has no session');
  t.equal(stack.upstream.requests.length, 0);
}

t.test('a provider that checks PKCE', async (t) => {
  const stack = await startHostileStack();
  t.teardown(() => stack.close());
  await injectStolenCode(t, stack, 'GH_TOKEN_REQUEST_FAILED');
});

t.test('a lax provider that skips PKCE', async (t) => {
  const stack = await startHostileStack();
  t.teardown(() => stack.close());
  stack.provider.checkPkce = false;
  await injectStolenCode(t, stack, 'GH_ID_TOKEN_NONCE');
});
