// The provider goes down: signed-in people keep working, a new sign-in gets a
// clear 503 page (JSON for API calls) without internal details, readiness turns
// false — and everything recovers by itself when the provider comes back.
import t from 'tap';
import { demoClients, startDemoStack } from '../../src/demo/stack.js';
import { startDemoProvider, DEMO_ACCOUNTS } from '../../src/demo/provider.js';
import { fetchWithJar, signIn, CookieJar } from '../helpers/browserless.js';
import { ALICE, NAVIGATION, captureLogger } from '../helpers/stack.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

t.test('provider down and back', async (t) => {
  const logs = captureLogger('info');
  // the restarted provider signs with a new key: the first sign-in's unknown kid fetches it at once (default policy)
  const stack = await startDemoStack({ logger: logs.logger });
  let provider = stack.provider;
  t.teardown(async () => {
    await stack.close();
    await provider.close().catch(() => {});
  });
  const base = stack.publicUrl;
  const alice = await signIn(`${base}/agent/`, ALICE);
  t.equal(alice.final.status, 200, 'alice signed in while the provider was up');

  await stack.provider.close();
  // readiness looks at the provider at most once a second: asked until it has looked again
  let ready = await fetchWithJar(`${base}/.gatehouse/readyz`);
  for (const until = Date.now() + 5000; ready.status === 200 && Date.now() < until; ) {
    await sleep(100);
    ready = await fetchWithJar(`${base}/.gatehouse/readyz`);
  }
  t.equal(ready.status, 503, 'readiness turns false');
  t.match(JSON.parse(ready.body), { ready: false, realms: { agent: { provider: false, error: 'GH_DISCOVERY_FAILED' } } });

  const working = await fetchWithJar(`${base}/agent/tickets/1`, { jar: alice.jar, headers: { ...NAVIGATION } });
  t.equal(working.status, 200, 'an existing session keeps working');

  const page = await fetchWithJar(`${base}/agent/`, { jar: new CookieJar(), headers: { ...NAVIGATION } });
  t.equal(page.status, 503, 'a new sign-in gets 503, not a redirect to a dead provider');
  t.match(page.headers['content-type'], /text\/html/);
  t.match(page.body, /The sign-in provider cannot be reached right now/);
  t.match(page.body, /GH_DISCOVERY_FAILED/);
  t.match(page.body, /Request ID: <code>[^<]+<\/code>/);
  t.equal(page.headers['retry-after'], '5');
  t.notMatch(page.body, new RegExp(`${provider.port}|ECONNREFUSED|well-known`), 'no internal detail on the page');

  const api = await fetchWithJar(`${base}/.gatehouse/login?realm=agent&rd=/agent/`, { headers: { accept: 'application/json' } });
  t.equal(api.status, 503);
  t.match(JSON.parse(api.body), { error: 'GH_DISCOVERY_FAILED', message: /cannot be reached/, request_id: /.+/ });
  t.ok(
    logs.lines.some((l) => l.msg === 'provider discovery failed' && l.realm !== undefined),
    'the outage is logged',
  );

  // the provider comes back on the same address (with a new signing key)
  provider = await startDemoProvider({ port: stack.provider.port, clients: demoClients(base), accounts: DEMO_ACCOUNTS });
  let readyAgain = 503;
  for (let i = 0; i < 40 && readyAgain !== 200; i++) {
    await sleep(250);
    readyAgain = (await fetchWithJar(`${base}/.gatehouse/readyz`)).status;
  }
  t.equal(readyAgain, 200, 'readiness recovers by itself');
  const again = await signIn(`${base}/agent/`, ALICE);
  t.equal(again.final.status, 200, 'new sign-ins work again');
  const metrics = (await fetchWithJar(`${base}/.gatehouse/metrics`)).body;
  t.match(metrics, /gatehouse_provider_refreshes_total\{realm="agent",kind="discovery",result="failure"\} [1-9]/);
});
