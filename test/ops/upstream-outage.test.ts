// The helpdesk is down or slow: a 502 or 504 page for people and JSON for
// scripts, within upstream.timeout — never a hang — counted in the metrics.
import t from 'tap';
import { fetchWithJar } from '../helpers/browserless.js';
import { BOB, NAVIGATION, startTestStack } from '../helpers/stack.js';

t.test('slow upstream: 504 within upstream.timeout; down: 502', async (t) => {
  const stack = await startTestStack({ editYaml: (y) => y.replace('timeout: 10s', 'timeout: 1s') });
  t.teardown(() => stack.close());
  // bob, in the user realm (paths [/]): the recording upstream's /slow?ms= is at the root
  const { jar } = await stack.signIn('/', BOB);

  const started = performance.now();
  const slow = await fetchWithJar(`${stack.publicUrl}/slow?ms=8000`, { jar, headers: { ...NAVIGATION } });
  const took = performance.now() - started;
  t.equal(slow.status, 504);
  t.ok(took >= 950 && took < 6000, `answered after the 1 s timeout, not after the helpdesk (${Math.round(took)} ms)`);
  t.match(slow.body, /The helpdesk did not answer in time/);
  t.match(slow.body, /GH_UPSTREAM_TIMEOUT/);
  t.match(slow.headers['content-security-policy'], /default-src 'none'/);

  const slowApi = await fetchWithJar(`${stack.publicUrl}/slow?ms=5000`, { jar, headers: { accept: 'application/json' } });
  t.equal(slowApi.status, 504);
  t.match(JSON.parse(slowApi.body), { error: 'GH_UPSTREAM_TIMEOUT', request_id: /.+/ });

  const fine = await fetchWithJar(`${stack.publicUrl}/slow?ms=200`, { jar });
  t.equal(fine.status, 200, 'a slow answer within the timeout is forwarded');

  await stack.upstream.close();
  const down = await fetchWithJar(`${stack.publicUrl}/tickets`, { jar, headers: { ...NAVIGATION } });
  t.equal(down.status, 502);
  t.match(down.body, /The helpdesk cannot be reached right now/);
  // (the page names the site by its public host, which on loopback is 127.0.0.1 too: what must not show is the helpdesk's address)
  t.notMatch(down.body, new RegExp(`ECONNREFUSED|${new URL(stack.upstreamUrl).host.replace(/\./g, '\\.')}`), 'no internal detail on the page');
  const downApi = await fetchWithJar(`${stack.publicUrl}/tickets`, { jar, headers: { accept: 'application/json' } });
  t.equal(downApi.status, 502);
  t.match(JSON.parse(downApi.body), { error: 'GH_UPSTREAM_UNAVAILABLE' });

  const ready = await fetchWithJar(`${stack.publicUrl}/.gatehouse/readyz`);
  t.equal(ready.status, 503, 'readiness is false while the helpdesk is down');
  t.match(JSON.parse(ready.body), { upstream: false });
  t.ok(
    stack.logs.lines.some((l) => l.code === 'GH_UPSTREAM_TIMEOUT') && stack.logs.lines.some((l) => l.code === 'GH_UPSTREAM_UNAVAILABLE'),
    'both are logged with their code',
  );
  const metrics = (await fetchWithJar(`${stack.publicUrl}/.gatehouse/metrics`)).body;
  t.match(metrics, /gatehouse_requests_total\{realm="user",outcome="error"\} [4-9]/);
});
