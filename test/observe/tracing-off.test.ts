// Tracing off (the default): no OpenTelemetry SDK is loaded, and W3C trace context
// crosses the gateway only from a trusted proxy, as X-Forwarded-* does: a client's
// own traceparent/tracestate never reaches the helpdesk (it would pick the helpdesk's
// trace ids and force its sampling), a trusted proxy's goes on unchanged.
import { createRequire } from 'node:module';
import { request } from 'undici';
import t from 'tap';
import { ALICE, rawRequest, startTestStack } from '../helpers/stack.js';

const TRACEPARENT = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

t.test('off by default: no SDK, and trace context from trusted proxies only', async (t) => {
  const stack = await startTestStack();
  t.teardown(() => stack.close());
  t.equal(stack.gw.tracing, null, 'no tracer');
  const host = new URL(stack.publicUrl).host;
  const send = async (id: string, extra: Record<string, string> = {}) => {
    const response = await request(`${stack.publicUrl}/favicon.ico`, {
      headers: { host, 'x-request-id': id, traceparent: TRACEPARENT, tracestate: 'vendor=opaque', ...extra },
    });
    await response.body.dump();
    t.equal(response.statusCode, 200);
    return stack.upstream.requests.find((r) => r.headers['x-request-id'] === id)!.headers;
  };

  const fromClient = await send('client');
  t.notOk('traceparent' in fromClient, "a client's traceparent is not forwarded");
  t.notOk('tracestate' in fromClient, 'nor its tracestate');

  await stack.gateway.reload({ ...stack.config, trusted_proxies: ['127.0.0.1'] });
  const fromProxy = await send('proxy');
  t.equal(fromProxy.traceparent, TRACEPARENT, "a trusted proxy's traceparent goes on unchanged");
  t.equal(fromProxy.tracestate, 'vendor=opaque', 'and its tracestate');
  // written byte for byte: a client library sets Connection itself
  const raw = await rawRequest(stack.publicUrl, 'GET', '/favicon.ico', [
    ['X-Request-Id', 'listed'],
    ['Traceparent', TRACEPARENT],
    ['Tracestate', 'vendor=opaque'],
    ['Connection', 'tracestate'],
  ]);
  t.equal(raw.status, 200);
  const listed = stack.upstream.requests.find((r) => r.headers['x-request-id'] === 'listed')!.headers;
  t.equal(listed.traceparent, TRACEPARENT);
  t.notOk('tracestate' in listed, 'a header the proxy lists in Connection is hop-by-hop, trace context too');

  // a sign-in and a signed-in request go through every place tracing hooks into
  const flow = await stack.signIn('/agent/tickets', ALICE);
  t.equal(flow.final.status, 200);
  const loaded = Object.keys(createRequire(import.meta.url).cache).filter((path) => path.includes('/node_modules/@opentelemetry/'));
  // prom-client loads @opentelemetry/api itself (for exemplars), tracing or not
  t.same(
    loaded.filter((path) => !path.includes('/node_modules/@opentelemetry/api/')),
    [],
    'no OpenTelemetry SDK module was loaded',
  );
});
