// The provider's discovery document names an issuer different from the
// configured one (another host, a missing trailing slash): OIDC Discovery 4.3
// says it MUST be identical, or one provider could stand in for another.
// Gatehouse must refuse to sign anyone in with GH_DISCOVERY_ISSUER_MISMATCH (503)
// — never redirect the browser to that provider — and report not ready.
import t from 'tap';
import { request } from 'undici';
import { startHostileStack, fetchAsScript, NAVIGATION } from '../helpers/hostile-provider.js';
import { CookieJar, fetchWithJar } from '../helpers/browserless.js';

for (const [label, issuerOf] of [
  ['another host', () => 'https://attacker.example/'],
  ['trailing slash dropped', (issuer: string) => issuer.replace(/\/$/, '')],
] as Array<[string, (issuer: string) => string]>) {
  t.test(`discovery issuer: ${label}`, async (t) => {
    const stack = await startHostileStack({
      beforeGateway: (p) => {
        p.discoveryOverrides = { issuer: issuerOf(p.issuer) };
      },
    });
    t.teardown(() => stack.close());
    const page = await fetchWithJar(`${stack.publicUrl}/agent/`, { headers: { ...NAVIGATION } });
    t.equal(page.status, 503);
    t.notOk(page.headers.location, 'not sent to the provider');
    t.match(page.body, /GH_DISCOVERY_ISSUER_MISMATCH/);
    const login = await fetchWithJar(`${stack.publicUrl}/.gatehouse/login?realm=agent&rd=/agent/`, { headers: { accept: 'application/json' } });
    t.equal(login.status, 503);
    t.equal(JSON.parse(login.body).error, 'GH_DISCOVERY_ISSUER_MISMATCH');
    const ready = await request(`${stack.publicUrl}/.gatehouse/readyz`);
    const body = (await ready.body.json()) as { realms: Record<string, { error?: string }> };
    t.equal(ready.statusCode, 503);
    t.equal(body.realms.agent?.error, 'GH_DISCOVERY_ISSUER_MISMATCH');
    t.equal(stack.provider.counts.authorize, 0);
    t.equal((await fetchAsScript(stack, '/agent/', new CookieJar())).status, 401, 'a script is told to sign in, not redirected');
  });
}
