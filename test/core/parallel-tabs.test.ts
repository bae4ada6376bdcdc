// Two tabs of one browser start signing in before either finishes: each login
// attempt has its own cookie, named after its state, so both callbacks succeed
// and each tab lands where it started (no "state mismatch" for the slower tab).
import t from 'tap';
import { CookieJar, fetchWithJar } from '../helpers/browserless.js';
import { ALICE, NAVIGATION, authorizeUntilCallback, startTestStack } from '../helpers/stack.js';

t.test('two parallel sign-ins in one browser both succeed', async (t) => {
  const stack = await startTestStack();
  t.teardown(() => stack.close());
  const jar = new CookieJar();

  const tabA = await fetchWithJar(`${stack.publicUrl}/agent/tickets/1`, { jar, headers: NAVIGATION });
  const tabB = await fetchWithJar(`${stack.publicUrl}/agent/tickets/2`, { jar, headers: NAVIGATION });
  t.equal(tabA.status, 302);
  t.equal(tabB.status, 302);
  const attempts = jar.all(stack.publicUrl).filter((c) => c.name.startsWith('gatehouse-login-'));
  t.equal(attempts.length, 2, 'two login-attempt cookies side by side');

  // both reach the provider before either comes back
  const callbackA = await authorizeUntilCallback(tabA.headers.location as string, jar, ALICE, stack.publicUrl);
  const callbackB = await authorizeUntilCallback(tabB.headers.location as string, jar, ALICE, stack.publicUrl);
  t.not(callbackA, callbackB);

  // and come back in the other order
  const doneB = await fetchWithJar(callbackB, { jar, headers: NAVIGATION });
  t.equal(doneB.status, 302, 'tab B: signed in');
  t.equal(doneB.headers.location, '/agent/tickets/2', 'tab B lands on its own page');
  const doneA = await fetchWithJar(callbackA, { jar, headers: NAVIGATION });
  t.equal(doneA.status, 302, 'tab A: signed in too');
  t.equal(doneA.headers.location, '/agent/tickets/1', 'tab A lands on its own page');

  // each attempt stays as a spent one (no nonce, no verifier) so a reload of its callback is understood
  const spent = jar.all(stack.publicUrl).filter((c) => c.name.startsWith('gatehouse-login-'));
  t.same(spent.map((c) => c.name).sort(), attempts.map((c) => c.name).sort(), 'both attempt cookies kept as spent');
  t.ok(
    spent.every((c) => attempts.find((a) => a.name === c.name)!.value !== c.value),
    'with new values',
  );
  t.equal((await fetchWithJar(callbackA, { jar, headers: NAVIGATION })).headers.location, '/agent/tickets/1', 'a reload of tab A goes on to its page');
  const page = await fetchWithJar(`${stack.publicUrl}/agent/tickets/1`, { jar, headers: { accept: 'application/json' } });
  t.equal(page.status, 200);
  t.equal(stack.upstream.requests.at(-1)!.headers['x-auth-subject'], 'user-alice');
});
