// Key rotation inside the JWKS cooldown (issue 11, finding 8), with the default
// cooldown and an injected clock. Anyone can POST a back-channel logout token
// with a made-up kid and so set off a JWKS fetch; if the provider rotates its key
// just after, the next sign-in's ID token (from the token endpoint, which only
// the provider answers) must still be verified: its unknown kid refetches at
// once. Anonymous tokens stay rate-limited by the 30 s cooldown, and even
// token-endpoint tokens refetch at most once per 5 s (a provider that signs with
// a key it does not publish cannot make us fetch on every sign-in).
import t from 'tap';
import { randomBytes } from 'node:crypto';
import { SignJWT } from 'jose';
import { fetchWithJar } from '../helpers/browserless.js';
import { expectSignInRefused, fetchAsScript, newSigningKey, signInVia, startHostileStack } from '../helpers/hostile-provider.js';

let offsetMs = 0;
const now = (): number => Date.now() + offsetMs;
const advance = (ms: number): void => {
  offsetMs += ms;
};
const stack = await startHostileStack({ now });
t.teardown(() => stack.close());

/** A logout token anyone could make: right issuer and audience, signed by a key nobody published. */
async function bogusLogout(): Promise<{ status: number; code: string }> {
  const key = await newSigningKey('RS256', `made-up-${randomBytes(4).toString('hex')}`);
  const token = await new SignJWT({
    events: { 'http://schemas.openid.net/event/backchannel-logout': {} },
    jti: randomBytes(8).toString('hex'),
    sub: 'hostile-sub-1',
  })
    .setProtectedHeader({ alg: 'RS256', kid: key.kid })
    .setIssuer(stack.provider.issuer)
    .setAudience('hostile-agent')
    .setIssuedAt(Math.floor(now() / 1000))
    .sign(key.privateKey);
  const res = await fetchWithJar(`${stack.publicUrl}/.gatehouse/backchannel-logout/agent`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ logout_token: token }).toString(),
  });
  return { status: res.status, code: (JSON.parse(res.body) as { code: string }).code };
}

t.test('the provider rotates just after an anonymous logout token set off a JWKS fetch: the next sign-in succeeds', async (t) => {
  const before = await signInVia(stack);
  t.equal(before.callback.status, 302, 'signed in');

  advance(31_000); // the cooldown since the JWKS fetched at start has passed
  const fetches = stack.provider.counts.jwks;
  t.same(await bogusLogout(), { status: 400, code: 'GH_LOGOUT_TOKEN_INVALID' });
  t.equal(stack.provider.counts.jwks, fetches + 1, 'anyone can set off one JWKS fetch per cooldown');
  for (let i = 0; i < 10; i++) t.same(await bogusLogout(), { status: 400, code: 'GH_LOGOUT_TOKEN_INVALID' });
  t.equal(stack.provider.counts.jwks, fetches + 1, 'and no more: a flood of logout tokens is not a flood of fetches');

  advance(1_000);
  const fresh = await stack.provider.rotate();
  const after = await signInVia(stack);
  t.equal(after.callback.status, 302, `signed in right after the rotation (kid ${fresh.kid}), 1 s after the last fetch`);
  t.equal(stack.provider.counts.jwks, fetches + 2, 'the ID token from the token endpoint refetched the JWKS at once');
  t.equal((await fetchAsScript(stack, '/agent/', after.jar)).status, 200);
  t.equal((await fetchAsScript(stack, '/agent/', before.jar)).status, 200, 'the session from before the rotation lives on');

  advance(1_000);
  t.same(await bogusLogout(), { status: 400, code: 'GH_LOGOUT_TOKEN_INVALID' });
  t.equal(stack.provider.counts.jwks, fetches + 2, "the sign-in's fetch restarted the anonymous cooldown");
});

t.test('a provider that signs with a key it does not publish: token-endpoint tokens refetch at most once per 5 s', async (t) => {
  advance(10_000);
  const stranger = await newSigningKey('RS256', 'kid-nobody-published');
  stack.provider.forgeIdToken = (ctx) => ctx.sign(ctx.claims, { key: stranger });
  t.teardown(() => {
    stack.provider.forgeIdToken = null;
  });
  const fetches = stack.provider.counts.jwks;
  for (let i = 0; i < 3; i++) await expectSignInRefused(t, stack, 'GH_ID_TOKEN_KID_UNKNOWN', { label: `attempt ${i + 1}` });
  t.equal(stack.provider.counts.jwks, fetches + 1, 'three sign-ins, one refetch');
  advance(4_000);
  await expectSignInRefused(t, stack, 'GH_ID_TOKEN_KID_UNKNOWN', { label: 'after 4 s' });
  t.equal(stack.provider.counts.jwks, fetches + 1, 'none within 5 s');
  advance(1_000);
  await expectSignInRefused(t, stack, 'GH_ID_TOKEN_KID_UNKNOWN', { label: 'after 5 s' });
  t.equal(stack.provider.counts.jwks, fetches + 2, 'then one more');
});

t.test('the JWKS cannot be fetched when a sign-in needs a new key: 503 GH_JWKS_UNAVAILABLE, and it recovers by itself', async (t) => {
  advance(10_000);
  await stack.provider.rotate();
  stack.provider.jwksDown = true;
  t.teardown(() => {
    stack.provider.jwksDown = false;
  });
  await expectSignInRefused(t, stack, 'GH_JWKS_UNAVAILABLE');
  stack.provider.jwksDown = false;
  advance(1_000); // past the first backoff
  t.equal((await signInVia(stack)).callback.status, 302, 'the JWKS answers again: the new key is fetched');
});
