// OpenTelemetry traces end to end: a gateway with observe.tracing exports through
// the real SDK to a real OTLP/HTTP receiver on loopback (test/helpers/otlp-receiver.ts
// decodes what arrives). A sign-in through the real provider, a signed-in request, a
// refresh: the span tree, its kinds and attributes, no secret anywhere in what is
// exported, and the trace context the helpdesk is sent.
import { createRequire } from 'node:module';
import { request } from 'undici';
import t from 'tap';
import { ALICE, startTestStack, testClock, type TestStack } from '../helpers/stack.js';
import { fetchWithJar } from '../helpers/browserless.js';
import { startOtlpReceiver, type OtlpReceiver, type ReceivedSpan } from '../helpers/otlp-receiver.js';
import { open } from '../../src/session/codec.js';
import { refreshDueAt } from '../../src/session/refresh.js';
import type { SessionData } from '../../src/session/session.js';
import { version } from '../../src/cli-args.js';

const CALLBACK = '/agent/login/authenticate-callback/1';
const XHR = { accept: 'application/json', 'x-requested-with': 'XMLHttpRequest' };
/** the exporter sends every few ms instead of every 5 s: the tests wait on what arrives, not on a clock */
const EXPORT = { scheduledDelayMs: 20 };

/** The demo config with tracing to `endpoint`, userinfo for the agent realm, and /status/* public. */
function tracedYaml(endpoint: string, extra = '') {
  return (yaml: string): string =>
    yaml
      .replace(/^log:/m, `observe:\n  tracing:\n    otlp_endpoint: ${endpoint}\n${extra}log:`)
      .replace('public_paths:\n  - /favicon.ico\n', 'public_paths:\n  - /favicon.ico\n  - /status/**\n')
      .replace('      client_secret: demo-agent-secret-0123456789abcdef\n', '      client_secret: demo-agent-secret-0123456789abcdef\n      userinfo: true\n');
}

const childrenOf = (spans: ReceivedSpan[], parent: ReceivedSpan) =>
  spans.filter((s) => s.traceId === parent.traceId && s.parentSpanId === parent.spanId).sort((a, b) => (a.start < b.start ? -1 : 1));
const names = (spans: ReceivedSpan[]) => spans.map((s) => s.name);

/** The server span of the request whose response carried x-request-id `id`. */
const serverSpanOf = (id: string) => (spans: ReceivedSpan[]) => spans.find((s) => s.kind === 'server' && s.attributes['gatehouse.request_id'] === id);

/** resolves once the request's server span and every span under it that `expect` names have arrived */
async function treeOf(
  receiver: OtlpReceiver,
  requestId: string,
  expect: (root: ReceivedSpan, spans: ReceivedSpan[]) => boolean = () => true,
): Promise<{ root: ReceivedSpan; spans: ReceivedSpan[] }> {
  const find = serverSpanOf(requestId);
  const spans = await receiver.waitFor((all) => {
    const root = find(all);
    return root !== undefined && expect(root, all);
  });
  return { root: find(spans)!, spans };
}

/** every attribute value of every span (links and resource included), as text */
function everyValue(spans: ReceivedSpan[]): string[] {
  const out: string[] = [];
  const walk = (value: unknown): void => {
    if (value === null || value === undefined) return;
    if (typeof value === 'object') for (const v of Object.values(value)) walk(v);
    else out.push(String(value));
  };
  for (const s of spans) walk([s.name, s.attributes, s.resource, s.links.map((l) => l.attributes), s.traceState]);
  return out;
}

async function tracedStack(
  t: { teardown(fn: () => unknown): void },
  receiver: OtlpReceiver,
  options: Parameters<typeof startTestStack>[0] = {},
): Promise<TestStack> {
  const stack = await startTestStack({ editYaml: tracedYaml(receiver.url), tracingExport: EXPORT, ...options });
  t.teardown(() => stack.close());
  return stack;
}

t.test('a sign-in and a signed-in request, as trees of spans with nothing secret in them', async (t) => {
  const receiver = await startOtlpReceiver();
  t.teardown(() => receiver.close());
  const clock = testClock();
  const stack = await tracedStack(t, receiver, { refreshTokens: true, now: clock.now });

  const flow = await stack.signIn('/agent/tickets', ALICE);
  t.equal(flow.final.status, 200, 'signed in and forwarded');
  const callbackUrl = new URL(flow.hops.find((hop) => hop.includes(CALLBACK))!);
  const cookie = flow.jar.get(stack.publicUrl, 'gatehouse-agent')!;
  const session = (await open<SessionData>(cookie, stack.gw.runtime.realms.get('agent')!.sealKeys))!;

  // the callback: one server span, and under it the token request, the ID token's check and userinfo, in order
  t.equal(stack.upstream.requests.length, 1, 'only the request after the sign-in reached the helpdesk');
  const { root: callbackSpan, spans: afterCallback } = await receiver
    .waitFor((all) => all.some((s) => s.name === `GET ${CALLBACK}`))
    .then((all) => {
      const root = all.find((s) => s.name === `GET ${CALLBACK}`)!;
      return receiver.waitFor((spans) => childrenOf(spans, root).length >= 3).then((spans) => ({ root, spans }));
    });
  t.equal(callbackSpan.kind, 'server');
  t.equal(callbackSpan.parentSpanId, '', 'a trace of its own: the browser sent no trace context');
  t.match(callbackSpan.attributes, {
    'http.request.method': 'GET',
    'url.path': CALLBACK,
    'http.route': CALLBACK,
    'http.response.status_code': 302,
    'url.scheme': 'http',
    'server.address': '127.0.0.1',
    'client.address': '127.0.0.1',
    'gatehouse.realm': 'agent',
  });
  t.notOk('gatehouse.error_code' in callbackSpan.attributes, 'a sign-in that worked has no error code');
  const steps = childrenOf(afterCallback, callbackSpan);
  t.same(names(steps), ['oidc.token', 'oidc.id_token', 'oidc.userinfo'], 'token request, ID token check, userinfo: in that order');
  const [token, idToken, userinfo] = steps as [ReceivedSpan, ReceivedSpan, ReceivedSpan];
  const metadata = stack.gw.runtime.realms.get('agent')!.provider.metadata!;
  t.match(token, {
    kind: 'client',
    status: 'unset',
    attributes: { 'http.request.method': 'POST', 'url.full': metadata.token_endpoint, 'http.response.status_code': 200, 'server.address': '127.0.0.1' },
  });
  t.match(idToken, { kind: 'internal', status: 'unset' });
  t.match(userinfo, { kind: 'client', attributes: { 'http.request.method': 'GET', 'url.full': metadata.userinfo_endpoint, 'http.response.status_code': 200 } });
  for (const step of steps) t.ok(step.start >= callbackSpan.start && step.end <= callbackSpan.end, `${step.name} lies within the callback`);

  // the request that started the sign-in: a redirect to the provider, in the realm
  const start = afterCallback.find(
    (s) => s.kind === 'server' && s.attributes['url.path'] === '/agent/tickets' && s.attributes['http.response.status_code'] === 302,
  );
  t.match(start, { name: 'GET', attributes: { 'gatehouse.realm': 'agent' } }, 'the navigation sent to the provider');

  // the signed-in request after it: a server span with the forward to the helpdesk as its client span
  const forwarded = stack.upstream.requests[0]!;
  const { root: signedIn, spans: afterForward } = await treeOf(
    receiver,
    String(forwarded.headers['x-request-id']),
    (root, all) => childrenOf(all, root).length >= 1,
  );
  t.match(signedIn, {
    name: 'GET',
    kind: 'server',
    attributes: { 'url.path': '/agent/tickets', 'http.response.status_code': 200, 'gatehouse.realm': 'agent' },
  });
  const [upstreamSpan, ...more] = childrenOf(afterForward, signedIn);
  t.same(more, [], 'a session from the cache: nothing but the forward');
  t.match(upstreamSpan, {
    name: 'upstream',
    kind: 'client',
    attributes: {
      'http.request.method': 'GET',
      'url.full': `${stack.upstreamUrl}/agent/tickets`,
      'server.address': '127.0.0.1',
      'server.port': Number(new URL(stack.upstreamUrl).port),
      'http.response.status_code': 200,
    },
  });
  // the helpdesk joins the trace: its parent is the forward's span
  t.equal(forwarded.headers.traceparent, `00-${signedIn.traceId}-${upstreamSpan!.spanId}-01`, 'the helpdesk is sent the forward span as its parent');
  t.notOk('tracestate' in forwarded.headers, 'no tracestate to pass on');

  // a refresh on the way: its span, with the token request and the new ID token's check under it
  clock.advance(refreshDueAt(session) - clock.now() + 1000);
  const refreshed = await fetchWithJar(`${stack.publicUrl}/agent/api/me`, { jar: flow.jar, headers: { ...XHR, 'x-request-id': 'refresh-1' } });
  t.equal(refreshed.status, 200);
  t.ok(
    ([] as string[]).concat(refreshed.headers['set-cookie'] ?? []).some((line) => line.startsWith('gatehouse-agent=')),
    'the session was refreshed',
  );
  const { root: refreshRequest, spans: afterRefresh } = await treeOf(receiver, 'refresh-1', (root, all) => {
    const refresh = childrenOf(all, root).find((s) => s.name === 'session.refresh');
    return (
      refresh !== undefined && childrenOf(all, refresh).some((s) => s.name === 'oidc.userinfo') && childrenOf(all, root).some((s) => s.name === 'upstream')
    );
  });
  const underRequest = childrenOf(afterRefresh, refreshRequest);
  t.same(names(underRequest), ['session.refresh', 'upstream'], 'the refresh, then the forward');
  const refreshSpan = underRequest[0]!;
  t.match(refreshSpan, { kind: 'internal', attributes: { 'gatehouse.outcome': 'refreshed' } });
  const refreshSteps = names(childrenOf(afterRefresh, refreshSpan)).filter((n) => n !== 'oidc.discovery');
  t.same(refreshSteps, ['oidc.token', 'oidc.id_token', 'oidc.userinfo'], 'the refresh grant, the new ID token, userinfo');

  // the callback once the provider signs with a new key: the JWKS fetch shows under the ID token's check
  await stack.provider.rotateSigningKey();
  const second = await stack.signIn('/agent/tickets', ALICE);
  t.equal(second.final.status, 200);
  const secondCallbackSpan = (all: ReceivedSpan[]) => all.filter((s) => s.name === `GET ${CALLBACK}`)[1];
  const jwksUnder = (all: ReceivedSpan[]) => {
    const root = secondCallbackSpan(all);
    const check = root && childrenOf(all, root).find((s) => s.name === 'oidc.id_token');
    return check && childrenOf(all, check).find((s) => s.name === 'oidc.jwks');
  };
  const withJwks = await receiver.waitFor((all) => jwksUnder(all) !== undefined);
  const jwks = jwksUnder(withJwks)!;
  t.same(names(childrenOf(withJwks, secondCallbackSpan(withJwks)!)), ['oidc.token', 'oidc.id_token', 'oidc.userinfo'], 'the same steps');
  t.match(jwks, { kind: 'client', attributes: { 'http.request.method': 'GET', 'url.full': metadata.jwks_uri, 'http.response.status_code': 200 } });

  // the resource says who exported
  t.match(signedIn.resource, { 'service.name': 'gatehouse', 'service.version': version(), 'process.pid': process.pid });
  t.equal(signedIn.scope.name, 'gatehouse');

  // nothing secret in any span: the cookies, the code and state, the tokens, the client secret, the assertion
  const secondCallback = new URL(second.hops.find((hop) => hop.includes(CALLBACK))!);
  const secrets = [
    cookie,
    ...[flow.jar, second.jar].flatMap((jar) => ['gatehouse-agent', 'gatehouse-user'].map((name) => jar.get(stack.publicUrl, name))),
    callbackUrl.searchParams.get('code'),
    callbackUrl.searchParams.get('state'),
    secondCallback.searchParams.get('code'),
    secondCallback.searchParams.get('state'),
    session.idToken,
    session.refreshToken,
    'demo-agent-secret-0123456789abcdef',
    String(forwarded.headers['x-auth-assertion']),
  ].filter((s): s is string => typeof s === 'string' && s.length >= 8);
  t.ok(secrets.length >= 9, `${secrets.length} secrets to look for`);
  const values = everyValue(receiver.spans);
  const exported = receiver.bodies.join('\n');
  for (const secret of secrets) {
    t.notOk(
      values.some((v) => v.includes(secret)),
      `no attribute holds ${secret.slice(0, 6)}…`,
    );
    t.notOk(exported.includes(secret), `nor does anything exported (${secret.slice(0, 6)}…)`);
  }
  t.notOk(
    receiver.spans.some((s) => ['url.path', 'url.full'].some((key) => String(s.attributes[key] ?? '').includes('?'))),
    'no query string in a path or URL',
  );
  t.notOk(
    receiver.spans.some((s) => Object.keys(s.attributes).some((k) => /cookie|authorization|token/i.test(k))),
    'no header of that kind recorded',
  );

  // the SDK is loaded because tracing is configured (the test that tracing off loads none: tracing-off.test.ts)
  t.ok(
    Object.keys(createRequire(import.meta.url).cache).some((path) => path.includes('/@opentelemetry/sdk-trace')),
    'the SDK was loaded',
  );
});

t.test('an answer the gateway or the helpdesk refused: error status and code on the spans', async (t) => {
  const receiver = await startOtlpReceiver();
  t.teardown(() => receiver.close());
  const stack = await tracedStack(t, receiver);
  const host = new URL(stack.publicUrl).host;

  // the helpdesk answers 503: the forward and the request are errors, with the status as error.type
  const failing = await request(`${stack.publicUrl}/status/503`, { headers: { host, 'x-request-id': 'status-503' } });
  await failing.body.dump();
  t.equal(failing.statusCode, 503);
  const { root, spans } = await treeOf(receiver, 'status-503', (r, all) => childrenOf(all, r).length === 1);
  t.match(root, { status: 'error', attributes: { 'http.response.status_code': 503, 'error.type': '503' } });
  t.notOk('gatehouse.realm' in root.attributes, 'a public path is in no realm');
  t.match(childrenOf(spans, root)[0], { name: 'upstream', status: 'error', attributes: { 'http.response.status_code': 503, 'error.type': '503' } });

  // a refusal of the gateway's own: its code on the span
  const notSignedIn = await request(`${stack.publicUrl}/agent/api/me`, { headers: { host, ...XHR } });
  await notSignedIn.body.dump();
  t.equal(notSignedIn.statusCode, 401);
  const misdirected = await request(`${stack.publicUrl}/agent/api/me`, { headers: { host: 'elsewhere.example', ...XHR } });
  await misdirected.body.dump();
  const { root: refused } = await treeOf(receiver, String(misdirected.headers['x-request-id']));
  t.match(refused, {
    status: 'unset',
    attributes: { 'http.response.status_code': 421, 'gatehouse.error_code': 'GH_MISDIRECTED_REQUEST', 'gatehouse.realm': 'agent' },
  });

  // probes are not traced
  const probe = await request(`${stack.publicUrl}/.gatehouse/healthz`);
  await probe.body.dump();
  await stack.gw.tracing!.flush();
  t.notOk(
    receiver.spans.some((s) => String(s.attributes['url.path']).startsWith('/.gatehouse/healthz')),
    'no span for a probe',
  );
});

t.test('trace context: continued from a trusted proxy, a new trace for anyone else', async (t) => {
  const receiver = await startOtlpReceiver();
  t.teardown(() => receiver.close());
  const stack = await tracedStack(t, receiver);
  const host = new URL(stack.publicUrl).host;
  const inboundTrace = '4bf92f3577b34da6a3ce929d0e0e4736';
  const inboundSpan = '00f067aa0ba902b7';
  let sent = 0;
  const send = async (flags: string) => {
    const id = `context-${++sent}`;
    const response = await request(`${stack.publicUrl}/favicon.ico`, {
      headers: { host, 'x-request-id': id, traceparent: `00-${inboundTrace}-${inboundSpan}-${flags}`, tracestate: 'vendor=opaque' },
    });
    await response.body.dump();
    return { id, upstream: stack.upstream.requests.find((r) => r.headers['x-request-id'] === id)! };
  };

  // 127.0.0.1 is not a trusted proxy here: a fresh trace, the client's kept as a link only
  const untrusted = await send('01');
  const { root: fresh, spans } = await treeOf(receiver, untrusted.id, (r, all) => childrenOf(all, r).length === 1);
  t.not(fresh.traceId, inboundTrace, 'the client does not choose the trace');
  t.equal(fresh.parentSpanId, '', 'nor the parent');
  t.same(
    fresh.links.map((l) => [l.traceId, l.spanId]),
    [[inboundTrace, inboundSpan]],
    'its context is linked',
  );
  t.equal(fresh.traceState, '', 'its tracestate is not taken');
  const forwardSpan = childrenOf(spans, fresh)[0]!;
  t.equal(untrusted.upstream.headers.traceparent, `00-${fresh.traceId}-${forwardSpan.spanId}-01`, "the helpdesk is sent the gateway's trace");
  t.notOk('tracestate' in untrusted.upstream.headers, "and not the client's tracestate");

  // the same from a trusted proxy: the proxy's trace goes on through the gateway to the helpdesk
  await stack.gateway.reload({ ...stack.config, trusted_proxies: ['127.0.0.1'] });
  const trusted = await send('01');
  const { root: continued, spans: spans2 } = await treeOf(receiver, trusted.id, (r, all) => childrenOf(all, r).length === 1);
  t.equal(continued.traceId, inboundTrace, "the proxy's trace");
  t.equal(continued.parentSpanId, inboundSpan, "the proxy's span is the parent");
  t.same(continued.links, [], 'no link needed');
  t.equal(continued.traceState, 'vendor=opaque', 'tracestate kept');
  const forwardSpan2 = childrenOf(spans2, continued)[0]!;
  t.equal(trusted.upstream.headers.traceparent, `00-${inboundTrace}-${forwardSpan2.spanId}-01`, 'the helpdesk joins the same trace');
  t.equal(trusted.upstream.headers.tracestate, 'vendor=opaque', 'with its tracestate');

  // a trusted proxy that did not sample: nothing recorded here, and the helpdesk is told not to sample either
  const unsampled = await send('00');
  t.match(unsampled.upstream.headers.traceparent, new RegExp(`^00-${inboundTrace}-[0-9a-f]{16}-00$`), 'not sampled, passed on');
  const later = await send('01');
  await treeOf(receiver, later.id);
  t.notOk(
    receiver.spans.some((s) => s.attributes['gatehouse.request_id'] === unsampled.id),
    'the unsampled request exported no span (spans go out in the order they end)',
  );
});

t.test('sample_ratio 0: traces started here are not recorded, their context still reaches the helpdesk', async (t) => {
  const receiver = await startOtlpReceiver();
  t.teardown(() => receiver.close());
  const stack = await startTestStack({
    editYaml: (y) => tracedYaml(receiver.url, '    sample_ratio: 0\n')(y).replace(/^public_url:/m, 'trusted_proxies: [127.0.0.1]\npublic_url:'),
    tracingExport: EXPORT,
  });
  t.teardown(() => stack.close());
  const host = new URL(stack.publicUrl).host;
  const plain = await request(`${stack.publicUrl}/favicon.ico`, { headers: { host, 'x-request-id': 'plain' } });
  await plain.body.dump();
  const forwarded = stack.upstream.requests.at(-1)!;
  t.match(forwarded.headers.traceparent, /^00-[0-9a-f]{32}-[0-9a-f]{16}-00$/, 'a context, marked not sampled');
  const sampled = await request(`${stack.publicUrl}/favicon.ico`, {
    headers: { host, 'x-request-id': 'sampled', traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' },
  });
  await sampled.body.dump();
  const { root } = await treeOf(receiver, 'sampled');
  t.equal(root.traceId, '0af7651916cd43dd8448eb211c80319c', "a trusted proxy's sampled trace is recorded whatever the ratio");
  t.notOk(
    receiver.spans.some((s) => s.attributes['gatehouse.request_id'] === 'plain'),
    'the trace started here was not',
  );
});

t.test('shutdown exports what is left', async (t) => {
  const receiver = await startOtlpReceiver();
  t.teardown(() => receiver.close());
  // a batch delay longer than the test: only the shutdown can have sent the span
  const stack = await startTestStack({ editYaml: tracedYaml(receiver.url), tracingExport: { scheduledDelayMs: 600_000 } });
  const id = 'last';
  const response = await request(`${stack.publicUrl}/favicon.ico`, { headers: { host: new URL(stack.publicUrl).host, 'x-request-id': id } });
  await response.body.dump();
  t.equal(receiver.exports, 0, 'nothing exported yet');
  await stack.close();
  t.ok(serverSpanOf(id)(receiver.spans), 'the last span went out on close');
});
