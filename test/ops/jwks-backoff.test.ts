// A misbehaving provider: it rotates its signing key and its JWKS endpoint is
// down at the same moment. Gatehouse must not stampede it (one fetch in flight,
// backoff between failures), must keep verifying with the keys it has, and
// must pick up the new key by itself once the endpoint answers again.
import t from 'tap';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { ProviderClient } from '../../src/oidc/provider.js';
import { verifyIdToken } from '../../src/oidc/id-token.js';
import { GatehouseError } from '../../src/errors.js';

async function signingKey(kid: string) {
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
  return { kid, privateKey, jwk: { ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' } };
}

t.test('JWKS down after a key rotation: single flight, backoff, stale keys kept, recovery', async (t) => {
  const oldKey = await signingKey('old');
  const newKey = await signingKey('new');
  let published = [oldKey.jwk];
  let jwksUp = true;
  let jwksHits = 0;
  const hitTimes: number[] = [];
  let issuer = '';
  const server = createServer((req, res) => {
    if (req.url === '/.well-known/openid-configuration') {
      res.writeHead(200, { 'content-type': 'application/json' });
      return res.end(
        JSON.stringify({
          issuer,
          authorization_endpoint: `${issuer}/auth`,
          token_endpoint: `${issuer}/token`,
          jwks_uri: `${issuer}/jwks`,
          id_token_signing_alg_values_supported: ['ES256'],
        }),
      );
    }
    jwksHits++;
    hitTimes.push(performance.now());
    // slow enough that a burst of lookups overlaps one fetch
    setTimeout(() => {
      if (!jwksUp) {
        res.writeHead(503);
        return res.end('down');
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ keys: published }));
    }, 50);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  t.teardown(
    () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  );

  const events: Array<{ type: string; ok: boolean }> = [];
  const client = new ProviderClient({ issuer, now: Date.now, retryBaseMs: 300, onEvent: (e) => events.push({ type: e.type, ok: e.ok }) });
  t.teardown(() => client.close());
  const metadata = await client.ensureReady();
  t.equal(jwksHits, 1, 'discovery fetched the JWKS once');

  const token = (key: typeof oldKey) =>
    new SignJWT({ nonce: 'n' })
      .setProtectedHeader({ alg: 'ES256', kid: key.kid })
      .setIssuer(issuer)
      .setAudience('client')
      .setSubject('alice')
      .setIssuedAt()
      .setExpirationTime('5m')
      .sign(key.privateKey);
  const verify = async (jwt: string) =>
    verifyIdToken(jwt, {
      getKey: client.keys('token-endpoint'),
      issuer: metadata.issuer,
      clientId: 'client',
      algorithms: metadata.id_token_signing_alg_values_supported,
      now: Date.now(),
      clockToleranceSec: 60,
      nonce: 'n',
    }).then(
      (claims) => claims.sub,
      (error: unknown) => (error instanceof GatehouseError ? error.code : `unexpected ${String(error)}`),
    );

  // the provider rotates and its JWKS endpoint goes down
  published = [newKey.jwk, oldKey.jwk];
  jwksUp = false;
  const newToken = await token(newKey);
  const burst = await Promise.all(Array.from({ length: 25 }, () => verify(newToken)));
  t.same(new Set(burst), new Set(['GH_JWKS_UNAVAILABLE']), 'every lookup of the unknown kid is refused with the specific code (the keys cannot be fetched)');
  t.equal(jwksHits, 2, 'a burst of 25 sign-ins made one JWKS fetch, not 25');

  const during = await Promise.all(Array.from({ length: 10 }, () => verify(newToken)));
  t.same(new Set(during), new Set(['GH_JWKS_UNAVAILABLE']));
  t.equal(jwksHits, 2, 'no fetch at all during the backoff');
  t.equal(await verify(await token(oldKey)), 'alice', 'tokens signed with a key we have still verify (stale-if-error)');

  // a steady stream of sign-ins with the new key while the endpoint stays down: the fetches back off (300 ms, then 600 ms)
  let calls = 0;
  const streamStarted = performance.now();
  while (jwksHits < 4 && performance.now() - streamStarted < 10_000) {
    t.equal(await verify(newToken), 'GH_JWKS_UNAVAILABLE');
    calls++;
    await new Promise((r) => setTimeout(r, 20));
  }
  t.equal(jwksHits, 4, `${calls} sign-ins, two more fetches`);
  t.ok(calls > 15, 'many sign-ins were refused without a fetch');
  t.ok(hitTimes[2]! - hitTimes[1]! >= 300, `first backoff respected (${Math.round(hitTimes[2]! - hitTimes[1]!)} ms >= 300)`);
  t.ok(hitTimes[3]! - hitTimes[2]! >= 600, `then doubled (${Math.round(hitTimes[3]! - hitTimes[2]!)} ms >= 600)`);

  jwksUp = true;
  let result = '';
  while (result !== 'alice' && performance.now() - streamStarted < 15_000) {
    result = await verify(newToken);
    await new Promise((r) => setTimeout(r, 20));
  }
  t.equal(result, 'alice', 'the endpoint is back: the new key is fetched and the token verifies');
  t.equal(jwksHits, 5, 'with one fetch');
  t.ok(hitTimes[4]! - hitTimes[3]! >= 1200, 'after the third backoff (1200 ms)');
  t.ok(
    events.some((e) => e.type === 'jwks' && !e.ok) && events.at(-1)?.type === 'jwks' && events.at(-1)?.ok,
    'failures and the recovery are reported (metrics, logs)',
  );
});
