// The gateway's own health and key endpoints: healthz (200 while serving),
// readyz (200 only when every realm's provider is discovered with its JWKS and the
// upstream answers; 503 with a JSON reason otherwise) and jwks.json (the public
// key the helpdesk verifies X-Auth-Assertion with, and nothing private).
import t from 'tap';
import { fetchWithJar } from '../helpers/browserless.js';
import { startTestStack } from '../helpers/stack.js';

t.test('healthz, readyz and jwks.json', async (t) => {
  const stack = await startTestStack();
  t.teardown(() => stack.close());
  const get = (path: string) => fetchWithJar(`${stack.publicUrl}${path}`, { headers: { accept: 'application/json' } });

  const health = await get('/.gatehouse/healthz');
  t.equal(health.status, 200);
  t.same(JSON.parse(health.body), { status: 'ok' });
  t.equal(health.headers['cache-control'], 'no-store');

  // discovery starts with the gateway, in the background: wait for it to end
  for (const realm of stack.gw.runtime.realms.values()) await realm.provider.ensureReady();
  const ready = await get('/.gatehouse/readyz');
  t.equal(ready.status, 200, 'ready: providers discovered, upstream answers');
  const readyBody = JSON.parse(ready.body);
  t.equal(readyBody.ready, true);
  t.same(readyBody.realms, { agent: { provider: true }, user: { provider: true } });

  const jwks = await get('/.gatehouse/jwks.json');
  t.equal(jwks.status, 200);
  t.match(jwks.headers['content-type'], /^application\/jwk-set\+json/);
  const { keys } = JSON.parse(jwks.body) as { keys: Array<Record<string, unknown>> };
  t.equal(keys.length, 1);
  t.match(keys[0], { kty: 'EC', crv: 'P-256', alg: 'ES256', use: 'sig', kid: String });
  t.notOk('d' in keys[0]!, 'no private key material');

  t.equal(stack.upstream.requests.filter((r) => r.url.startsWith('/.gatehouse')).length, 0, 'none of these reached the helpdesk');

  await stack.upstream.close();
  const down = await get('/.gatehouse/readyz');
  t.equal(down.status, 503, 'upstream down: not ready');
  t.match(down.headers['content-type'], /^application\/json/);
  const downBody = JSON.parse(down.body);
  t.equal(downBody.ready, false);
  t.equal(downBody.upstream, false, 'the reason: the upstream does not answer');
  t.same(downBody.realms, { agent: { provider: true }, user: { provider: true } }, 'the providers are fine');
  t.equal((await get('/.gatehouse/healthz')).status, 200, 'still alive');
});
