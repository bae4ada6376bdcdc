// The ID token has no `kid` while the JWKS holds several keys of its type (two
// RSA keys): which key signed it is ambiguous, and trying each would let any of
// them vouch for it. Gatehouse must answer GH_ID_TOKEN_KID_AMBIGUOUS (502).
// With a single key of the type, a token without kid is fine (OIDC Core 10.1).
import t from 'tap';
import { startHostileStack, expectSignInRefused, newSigningKey, signInVia } from '../helpers/hostile-provider.js';

t.test('no kid and several RSA keys in the JWKS', async (t) => {
  const stack = await startHostileStack();
  t.teardown(() => stack.close());
  const second = await newSigningKey('RS256');
  stack.provider.jwks = [...stack.provider.jwks, second.publicJwk];
  await stack.gateway.gw.runtime.realms.get('agent')!.provider.refreshKeys();
  // signed by the real first key: even a token that would verify is refused
  stack.provider.forgeIdToken = (ctx) => ctx.sign(ctx.claims, { alg: 'RS256', noKid: true });
  await expectSignInRefused(t, stack, 'GH_ID_TOKEN_KID_AMBIGUOUS');
});

t.test('no kid and exactly one key of the type is accepted', async (t) => {
  const stack = await startHostileStack();
  t.teardown(() => stack.close());
  stack.provider.forgeIdToken = (ctx) => ctx.sign(ctx.claims, { alg: 'ES256', noKid: true });
  const { callback } = await signInVia(stack);
  t.equal(callback.status, 302);
});
