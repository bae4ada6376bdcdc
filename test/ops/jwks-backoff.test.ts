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
  let issuer = '';
  const server = createServer((req, res) => {
    if (req.url === '/.well-known/openid-configuration') {
      res.writeHead(200, { 'content-type': 'application/json' });
      return res.end(JSON.stringify({ issuer, authorization_endpoint: `${issuer}/auth`, token_endpoint: `${issuer}/token`, jwks_uri: `${issuer}/jwks`, id_token_signing_alg_values_supported: ['ES256'] }));
    }
    jwksHits++;
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
  t.teardown(() => new Promise<void>((r) => { server.close(() => r()); server.closeAllConnections(); }));

  const events: Array<{ type: string; ok: boolean }> = [];
  const client = new ProviderClient({ issuer, jwksCooldownMs: 0, retryBaseMs: 300, onEvent: (e) => events.push({ type: e.type, ok: e.ok }) });
  t.teardown(() => client.close());
  const metadata = await client.ensureReady();
  t.equal(jwksHits, 1, 'discovery fetched the JWKS once');

  const token = (key: typeof oldKey) =>
    new SignJWT({ nonce: 'n' }).setProtectedHeader({ alg: 'ES256', kid: key.kid }).setIssuer(issuer).setAudience('client').setSubject('alice').setIssuedAt().setExpirationTime('5m').sign(key.privateKey);
  const verify = async (jwt: string) =>
    verifyIdToken(jwt, { getKey: client.keys, issuer: metadata.issuer, clientId: 'client', algorithms: metadata.id_token_signing_alg_values_supported, now: Date.now(), clockToleranceSec: 60, nonce: 'n' }).then(
      (claims) => claims.sub,
      (error: unknown) => (error instanceof GatehouseError ? error.code : `unexpected ${String(error)}`),
    );

  // the provider rotates and its JWKS endpoint goes down
  published = [newKey.jwk, oldKey.jwk];
  jwksUp = false;
  const newToken = await token(newKey);
  const burst = await Promise.all(Array.from({ length: 25 }, () => verify(newToken)));
  t.same(new Set(burst), new Set(['GH_ID_TOKEN_KID_UNKNOWN']), 'every lookup of the unknown kid is refused with the specific code');
  t.equal(jwksHits, 2, 'a burst of 25 sign-ins made one JWKS fetch, not 25');

  const during = await Promise.all(Array.from({ length: 10 }, () => verify(newToken)));
  t.same(new Set(during), new Set(['GH_ID_TOKEN_KID_UNKNOWN']));
  t.equal(jwksHits, 2, 'no fetch at all during the backoff');
  t.equal(await verify(await token(oldKey)), 'alice', 'tokens signed with a key we have still verify (stale-if-error)');

  await new Promise((r) => setTimeout(r, 350));
  t.equal(await verify(newToken), 'GH_ID_TOKEN_KID_UNKNOWN');
  t.equal(jwksHits, 3, 'after the first backoff: one more attempt');
  await new Promise((r) => setTimeout(r, 350));
  await verify(newToken);
  t.equal(jwksHits, 3, 'the backoff doubled (600 ms): still no new fetch after 350 ms');

  jwksUp = true;
  await new Promise((r) => setTimeout(r, 300));
  t.equal(await verify(newToken), 'alice', 'the endpoint is back: the new key is fetched and the token verifies');
  t.equal(jwksHits, 4);
  t.ok(events.some((e) => e.type === 'jwks' && !e.ok) && events.at(-1)?.type === 'jwks' && events.at(-1)?.ok, 'failures and the recovery are reported (metrics, logs)');
});
