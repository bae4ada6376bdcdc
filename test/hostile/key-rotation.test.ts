// The provider rotates its signing key: the old key leaves the JWKS and new ID
// tokens carry a new kid. This is not an attack but the refusals above must not
// break it: Gatehouse must refetch the JWKS on the unknown kid and the sign-in
// after rotation must succeed (no GH_ID_TOKEN_KID_UNKNOWN), for every key type.
// Default JWKS policy (oidc/jwks.ts), on an injected clock: rotations of the
// three keys a minute apart, like any real provider's (the bound is one
// token-endpoint refetch per 5 s).
import t from 'tap';
import { startHostileStack, signInVia, fetchAsScript, type KeyAlg } from '../helpers/hostile-provider.js';

t.test('a sign-in after key rotation succeeds', async (t) => {
  let offsetMs = 0;
  const stack = await startHostileStack({ now: () => Date.now() + offsetMs });
  t.teardown(() => stack.close());
  for (const alg of ['RS256', 'ES256', 'EdDSA'] as KeyAlg[]) {
    offsetMs += 60_000;
    stack.provider.signingAlg = alg;
    const before = await signInVia(stack);
    t.equal(before.callback.status, 302, `${alg}: signed in before rotation`);
    const fetches = stack.provider.counts.jwks;
    const fresh = await stack.provider.rotate(alg);
    const after = await signInVia(stack);
    t.equal(after.callback.status, 302, `${alg}: signed in after rotation (kid ${fresh.kid})`);
    t.equal(stack.provider.counts.jwks - fetches, 1, `${alg}: the JWKS was fetched again once`);
    t.equal((await fetchAsScript(stack, '/agent/', after.jar)).status, 200);
    // the session from before rotation lives on: sessions do not depend on the provider's keys
    t.equal((await fetchAsScript(stack, '/agent/', before.jar)).status, 200);
  }
});
