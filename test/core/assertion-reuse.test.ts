// The identity assertion is signed once per session and reused (the same string)
// on every request until three quarters of its assertion_ttl have passed; then a
// fresh one is signed. Signing per request would cost a signature each time.
import t from 'tap';
import { decodeJwt } from 'jose';
import { fetchWithJar } from '../helpers/browserless.js';
import { ALICE, startTestStack, testClock } from '../helpers/stack.js';

t.test('one assertion per session until close to expiry, then a new one', async (t) => {
  const clock = testClock();
  const stack = await startTestStack({ now: clock.now });
  t.teardown(() => stack.close());
  const { jar } = await stack.signIn('/agent/', ALICE);
  const assertionNow = async (): Promise<string> => {
    const res = await fetchWithJar(`${stack.publicUrl}/agent/api/whoami`, { jar, headers: { accept: 'application/json' } });
    t.equal(res.status, 200);
    return stack.upstream.requests.at(-1)!.headers['x-auth-assertion'] as string;
  };

  const first = await assertionNow();
  t.equal(await assertionNow(), first, 'second request: the same assertion string');
  clock.advance(40_000);
  t.equal(await assertionNow(), first, '40 s later (ttl 60 s): still the same');
  clock.advance(6_000);
  const renewed = await assertionNow();
  t.not(renewed, first, 'past 45 s (three quarters of 60 s): a new assertion');
  const before = decodeJwt(first);
  const after = decodeJwt(renewed);
  t.ok(after.iat! >= before.iat! + 46, 'signed at the (moved) current time');
  t.equal(after.exp! - after.iat!, 60);
  t.equal(after.sub, 'user-alice');
  t.equal(await assertionNow(), renewed, 'and the new one is reused in turn');
});
