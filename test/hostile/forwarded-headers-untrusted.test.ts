// A client that is not a trusted proxy sends forwarding headers to pose as
// another address, scheme or host, or to make the helpdesk serve another path
// than the one the gateway judged: X-Forwarded-* (any of them, any spelling),
// Forwarded, X-Real-IP and other client-IP headers, X-Original-URL and
// X-Rewrite-URL. The helpdesk must see only what the gateway itself sets —
// X-Forwarded-For = the TCP peer, X-Forwarded-Proto = the real scheme,
// X-Forwarded-Host = the Host — and the gateway must not believe them either
// (an https public_url still redirects plain http). From a trusted proxy,
// X-Forwarded-For is extended, not replaced.
import t from 'tap';
import { request } from 'undici';
import { startHostileStack, rawRequest } from '../helpers/hostile-provider.js';

const FORGED = [
  'X-Forwarded-For: 203.0.113.7',
  'X-Forwarded-For: 198.51.100.1',
  'X-Forwarded-Proto: https',
  'X-Forwarded-Host: evil.example',
  'X-Forwarded-Port: 443',
  'X-Forwarded-Prefix: /agent',
  'X-Forwarded-Server: evil.example',
  'X-Forwarded-Ssl: on',
  'X-Forwarded-Scheme: https',
  'X-Forwarded-Uri: /agent/admin',
  'X_Forwarded_For: 203.0.113.8',
  'x_forwarded_host: evil2.example',
  'Forwarded: for=203.0.113.9;proto=https;host=evil3.example',
  'X-Real-IP: 203.0.113.10',
  'X-Client-IP: 203.0.113.11',
  'True-Client-IP: 203.0.113.12',
  'X-Cluster-Client-IP: 203.0.113.13',
  'X-Original-URL: /agent/admin',
  'X-Rewrite-URL: /agent/admin',
  'X_Original_URL: /agent/admin',
];
const FORGED_VALUE = /203\.0\.113|198\.51\.100|evil|\/agent\/admin/;

function headersNamed(raw: string[], name: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) if (raw[i]!.toLowerCase().replace(/_/g, '-') === name) out.push(raw[i + 1]!);
  return out;
}

t.test('forwarding headers from an untrusted peer never reach the helpdesk', async (t) => {
  const stack = await startHostileStack();
  t.teardown(() => stack.close());
  const host = new URL(stack.publicUrl).host;
  const answer = await rawRequest(stack.gateway.url, ['GET /favicon.ico HTTP/1.1', `Host: ${host}`, ...FORGED, 'Connection: close', '', ''].join('\r\n'));
  t.match(answer, /^HTTP\/1\.1 200 /);
  const raw = stack.upstream.requests.at(-1)!.rawHeaders;
  t.same(headersNamed(raw, 'x-forwarded-for'), ['127.0.0.1'], 'X-Forwarded-For is the TCP peer, once');
  t.same(headersNamed(raw, 'x-forwarded-proto'), ['http'], 'X-Forwarded-Proto is the real scheme');
  t.same(headersNamed(raw, 'x-forwarded-host'), [host], 'X-Forwarded-Host is the Host');
  for (const name of [
    'forwarded',
    'x-real-ip',
    'x-client-ip',
    'true-client-ip',
    'x-cluster-client-ip',
    'x-original-url',
    'x-rewrite-url',
    'x-forwarded-port',
    'x-forwarded-prefix',
    'x-forwarded-server',
    'x-forwarded-ssl',
    'x-forwarded-scheme',
    'x-forwarded-uri',
  ]) {
    t.same(headersNamed(raw, name), [], `${name} is dropped`);
  }
  t.notOk(
    raw.some((v) => FORGED_VALUE.test(v)),
    'no forged value anywhere',
  );
});

t.test('an https gateway does not believe X-Forwarded-Proto from an untrusted peer', async (t) => {
  const stack = await startHostileStack({
    editYaml: (y) =>
      y.replace(/^public_url: .*$/m, 'public_url: https://helpdesk.example.com').replace('public_paths:', 'trusted_proxies: [10.0.0.0/8]\npublic_paths:'),
  });
  t.teardown(() => stack.close());
  const forwarded = stack.upstream.requests.length;
  const res = await request(`${stack.gateway.url}/favicon.ico`, {
    headers: { host: 'helpdesk.example.com', 'x-forwarded-proto': 'https', 'x-forwarded-for': '10.1.2.3', forwarded: 'proto=https' },
  });
  await res.body.dump();
  t.equal(res.statusCode, 308, 'redirected to https, not served');
  t.equal(stack.upstream.requests.length, forwarded);
});

t.test('from a trusted proxy, X-Forwarded-For is extended and the rest still dropped', async (t) => {
  const stack = await startHostileStack({ editYaml: (y) => y.replace('public_paths:', 'trusted_proxies: [127.0.0.1/32]\npublic_paths:') });
  t.teardown(() => stack.close());
  const host = new URL(stack.publicUrl).host;
  await rawRequest(
    stack.gateway.url,
    [
      'GET /favicon.ico HTTP/1.1',
      `Host: ${host}`,
      'X-Forwarded-For: 203.0.113.7',
      'X-Original-URL: /agent/admin',
      'X-Forwarded-Prefix: /agent',
      'Connection: close',
      '',
      '',
    ].join('\r\n'),
  );
  const raw = stack.upstream.requests.at(-1)!.rawHeaders;
  t.same(headersNamed(raw, 'x-forwarded-for'), ['203.0.113.7, 127.0.0.1']);
  t.same(headersNamed(raw, 'x-original-url'), []);
  t.same(headersNamed(raw, 'x-forwarded-prefix'), []);
});
