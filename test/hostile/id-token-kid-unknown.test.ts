// The ID token names a `kid` that is not in the provider's JWKS. Gatehouse must
// fetch the JWKS once more (the key may be new), and when the kid is still
// unknown answer GH_ID_TOKEN_KID_UNKNOWN (502) — one refetch per attempt at most,
// never a loop, and not one per sign-in: at most one per 5 s (the default, on
// the real clock: the attempts below take well under that).
import t from 'tap';
import { startHostileStack, expectSignInRefused, newSigningKey } from '../helpers/hostile-provider.js';

t.test('an unknown kid is refused after exactly one JWKS refetch', async (t) => {
  const stack = await startHostileStack();
  t.teardown(() => stack.close());
  const stranger = await newSigningKey('RS256', 'kid-nobody-published');
  stack.provider.forgeIdToken = (ctx) => ctx.sign(ctx.claims, { key: stranger });
  const before = stack.provider.counts.jwks;
  await expectSignInRefused(t, stack, 'GH_ID_TOKEN_KID_UNKNOWN');
  t.equal(stack.provider.counts.jwks - before, 1, 'the JWKS was fetched again, once');
});

t.test('the JWKS is not refetched for every bad token', async (t) => {
  const stack = await startHostileStack();
  t.teardown(() => stack.close());
  const stranger = await newSigningKey('ES256', 'kid-nobody-published');
  stack.provider.forgeIdToken = (ctx) => ctx.sign(ctx.claims, { key: stranger });
  const before = stack.provider.counts.jwks;
  for (let i = 0; i < 3; i++) await expectSignInRefused(t, stack, 'GH_ID_TOKEN_KID_UNKNOWN', { label: `attempt ${i + 1}` });
  t.equal(stack.provider.counts.jwks, before + 1, 'no refetch flood: one for the three');
});
