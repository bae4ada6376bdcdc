// Prometheus metrics at /.gatehouse/metrics after real traffic: requests by
// realm and outcome, sign-ins and failures by reason, token validation
// failures, upstream latency, provider refreshes, store errors, sign-outs,
// configuration reloads and the process metrics.
import t from 'tap';
import { fetchWithJar, signOut, CookieJar } from '../helpers/browserless.js';
import { ALICE, BOB, NAVIGATION, startTestStack } from '../helpers/stack.js';
import { Metrics } from '../../src/observe/metrics.js';

function value(text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? NaN : Number(line.slice(series.length + 1));
}

t.test('metrics after sign-ins, refusals, 401s and forwards', async (t) => {
  const stack = await startTestStack();
  t.teardown(() => stack.close());
  const base = stack.publicUrl;
  const alice = await stack.signIn('/agent/', ALICE);
  for (let i = 0; i < 3; i++) await fetchWithJar(`${base}/agent/tickets/${i}`, { jar: alice.jar });
  await fetchWithJar(`${base}/favicon.ico`);
  await fetchWithJar(`${base}/agent/api/tickets`, { headers: { accept: 'application/json' } }); // 401
  await fetchWithJar(`${base}/`, { jar: new CookieJar(), headers: { ...NAVIGATION } }); // the user realm's sign-in page
  const bob = await stack.signIn('/', BOB);
  await stack.signIn('/agent/', BOB, bob.jar); // refused by the agent realm's allow rules
  await fetchWithJar(`${base}/agent/login/authenticate-callback/1?code=x&state=forged&iss=${encodeURIComponent(stack.provider.issuer)}`);
  await signOut(`${base}/agent/logout`, { jar: alice.jar });

  const res = await fetchWithJar(`${base}/.gatehouse/metrics`);
  t.equal(res.status, 200);
  t.match(res.headers['content-type'], /^text\/plain; version=0\.0\.4/);
  const text = res.body;
  t.ok(value(text, 'gatehouse_requests_total{realm="agent",outcome="forwarded"}') >= 4, 'forwarded');
  t.ok(value(text, 'gatehouse_requests_total{realm="agent",outcome="redirected"}') >= 2, 'redirected to the provider');
  t.equal(value(text, 'gatehouse_requests_total{realm="agent",outcome="unauthenticated"}'), 1, '401 for the API call');
  t.ok(value(text, 'gatehouse_requests_total{realm="user",outcome="unauthenticated"}') >= 1, 'the sign-in page');
  t.equal(value(text, 'gatehouse_requests_total{realm="-",outcome="public"}'), 1, 'public');
  t.equal(value(text, 'gatehouse_sign_ins_total{realm="agent",result="success",reason=""}'), 1);
  t.equal(value(text, 'gatehouse_sign_ins_total{realm="user",result="success",reason=""}'), 1);
  t.equal(value(text, 'gatehouse_sign_ins_total{realm="agent",result="failure",reason="GH_ALLOW_CLAIM"}'), 1, 'failures by reason');
  t.equal(value(text, 'gatehouse_sign_ins_total{realm="agent",result="failure",reason="GH_STATE_MISMATCH"}'), 1);
  t.equal(value(text, 'gatehouse_sign_outs_total{realm="agent",kind="rp"}'), 1);
  t.ok(value(text, 'gatehouse_upstream_duration_seconds_count') >= 4, 'upstream latency histogram');
  t.match(text, /gatehouse_upstream_duration_seconds_bucket\{le="0\.005"\} \d+/);
  t.ok(value(text, 'gatehouse_provider_refreshes_total{realm="agent",kind="discovery",result="success"}') >= 1, 'discovery');
  t.ok(value(text, 'gatehouse_provider_refreshes_total{realm="agent",kind="jwks",result="success"}') >= 1, 'JWKS');
  t.match(text, /^gatehouse_process_cpu_user_seconds_total \d/m, 'process metrics');
  t.match(text, /^gatehouse_process_resident_memory_bytes \d+/m);
  t.match(text, /^gatehouse_nodejs_eventloop_lag_seconds /m);
  t.notMatch(text, /user-alice|alice@example\.com|demo-agent-secret/, 'no subject, address or secret in a label');
});

t.test('token validation failures, store errors and reloads are counted by reason', async (t) => {
  const metrics = new Metrics({ processMetrics: false });
  metrics.signIn('agent', false, 'GH_ID_TOKEN_EXPIRED');
  metrics.tokenFailure('user', 'GH_LOGOUT_TOKEN_INVALID');
  metrics.storeError('redis');
  metrics.storeError('redis');
  metrics.configReload(true);
  metrics.configReload(false);
  const text = await metrics.render();
  t.equal(value(text, 'gatehouse_token_validation_failures_total{realm="agent",reason="GH_ID_TOKEN_EXPIRED"}'), 1);
  t.equal(value(text, 'gatehouse_token_validation_failures_total{realm="user",reason="GH_LOGOUT_TOKEN_INVALID"}'), 1);
  t.equal(value(text, 'gatehouse_sign_ins_total{realm="agent",result="failure",reason="GH_ID_TOKEN_EXPIRED"}'), 1);
  t.equal(value(text, 'gatehouse_session_store_errors_total{store="redis"}'), 2);
  t.equal(value(text, 'gatehouse_config_reloads_total{result="accepted"}'), 1);
  t.equal(value(text, 'gatehouse_config_reloads_total{result="rejected"}'), 1);
});
