// Host-header injection: helpdesks build absolute links (password-reset mails,
// redirects) from Host or X-Forwarded-Host, so a client that names its own host
// gets links to it sent to someone else. Gatehouse serves public_url's host
// only: a request that would be forwarded while naming another host (in Host,
// or in X-Forwarded-Host from a trusted proxy) is refused with 421 Misdirected
// Request and never reaches the helpdesk, and the helpdesk always receives
// public_url's host in X-Forwarded-Host (and in Host with preserve_host) —
// also behind a trusted proxy that rewrote Host (nginx proxy_pass does). The
// gateway's own endpoints stay reachable under any name: probes call
// 127.0.0.1:port with whatever Host they like.
import t from 'tap';
import { connect } from 'node:net';
import { ALICE, rawRequest, startTestStack } from '../helpers/stack.js';

t.test('another host name is refused with 421, never forwarded', async (t) => {
  const stack = await startTestStack();
  t.teardown(() => stack.close());
  const host = new URL(stack.publicUrl).host;
  const { jar } = await stack.signIn('/agent/', ALICE);
  const cookie = jar.cookieHeader(`${stack.publicUrl}/agent`)!;
  const before = stack.upstream.requests.length;

  for (const evil of ['evil.example', `evil.example:${new URL(stack.publicUrl).port}`, 'localhost', '127.0.0.2']) {
    const anon = await rawRequest(stack.publicUrl, 'GET', '/favicon.ico', [
      ['Host', evil],
      ['Accept', 'application/json'],
    ]);
    t.equal(anon.status, 421, `public path, Host: ${evil}`);
    t.match(JSON.parse(anon.body), { error: 'GH_MISDIRECTED_REQUEST' });
    const signedIn = await rawRequest(stack.publicUrl, 'POST', '/agent/password-reset', [
      ['Host', evil],
      ['Accept', 'application/json'],
      ['Cookie', cookie],
      ['Content-Length', '0'],
    ]);
    t.equal(signedIn.status, 421, `signed in, Host: ${evil}`);
  }
  const page = await rawRequest(stack.publicUrl, 'GET', '/agent/', [
    ['Host', 'evil.example'],
    ['Accept', 'text/html'],
  ]);
  t.equal(page.status, 421);
  t.match(page.body, /GH_MISDIRECTED_REQUEST/);
  t.notMatch(page.body, /evil\.example/, 'the page does not echo the host it was asked for');
  t.equal(stack.upstream.requests.length, before, 'nothing reached the helpdesk');

  // the same host, spelled as browsers and proxies may: upper case, a trailing dot
  const upper = await rawRequest(stack.publicUrl, 'GET', '/favicon.ico', [['Host', host.toUpperCase().replace('127.0.0.1', '127.0.0.1.')]]);
  t.equal(upper.status, 200, 'the public host in another spelling is served');
  t.equal(stack.upstream.requests.at(-1)!.headers['x-forwarded-host'], host, "the helpdesk gets public_url's host, as public_url spells it");
  t.equal(stack.upstream.requests.at(-1)!.headers.host, host, 'and in Host (preserve_host)');

  // probes and the gateway's own endpoints answer under any name
  for (const probe of ['127.0.0.1', 'pod-10-1-2-3.internal:8080']) {
    t.equal((await rawRequest(stack.publicUrl, 'GET', '/.gatehouse/healthz', [['Host', probe]])).status, 200, `healthz, Host: ${probe}`);
    t.equal((await rawRequest(stack.publicUrl, 'GET', '/.gatehouse/readyz', [['Host', probe]])).status, 200, `readyz, Host: ${probe}`);
  }
});

t.test("behind a trusted proxy: public_url's host, unless the proxy names another (then 421)", async (t) => {
  const stack = await startTestStack({
    editYaml: (y) =>
      y.replace('\nupstream:', '\ntrusted_proxies: [127.0.0.1/32]\nupstream:').replace('  timeout: 10s\n', '  timeout: 10s\n  preserve_host: false\n'),
  });
  t.teardown(() => stack.close());
  const host = new URL(stack.publicUrl).host;
  const upstreamHost = new URL(stack.upstreamUrl).host;

  // nginx `proxy_pass http://gatehouse:8080` rewrites Host and says where the browser went in X-Forwarded-Host
  const viaNginx = await rawRequest(stack.publicUrl, 'GET', '/favicon.ico', [
    ['Host', 'gatehouse:8080'],
    ['X-Forwarded-Host', host],
  ]);
  t.equal(viaNginx.status, 200);
  let seen = stack.upstream.requests.at(-1)!;
  t.equal(seen.headers['x-forwarded-host'], host, 'X-Forwarded-Host: the host the browser asked for');
  t.equal(seen.headers.host, upstreamHost, 'Host: the upstream URL’s (preserve_host: false)');

  // the client's Host reached Gatehouse unchanged (no X-Forwarded-Host): still public_url's
  const plain = await rawRequest(stack.publicUrl, 'GET', '/favicon.ico', [['Host', host]]);
  t.equal(plain.status, 200);
  seen = stack.upstream.requests.at(-1)!;
  t.equal(seen.headers['x-forwarded-host'], host);

  const before = stack.upstream.requests.length;
  const named = await rawRequest(stack.publicUrl, 'GET', '/favicon.ico', [
    ['Host', host],
    ['X-Forwarded-Host', 'evil.example'],
    ['Accept', 'application/json'],
  ]);
  t.equal(named.status, 421, 'a trusted proxy that names another host: refused');
  const rewritten = await rawRequest(stack.publicUrl, 'GET', '/favicon.ico', [
    ['Host', 'gatehouse:8080'],
    ['Accept', 'application/json'],
  ]);
  t.equal(rewritten.status, 421, 'a proxy that rewrote Host and did not say where the browser went: refused');
  t.equal(stack.upstream.requests.length, before, 'nothing reached the helpdesk');
});

t.test('a WebSocket upgrade naming another host is refused with 421 Misdirected Request, never forwarded', async (t) => {
  const stack = await startTestStack();
  t.teardown(() => stack.close());
  const { port } = new URL(stack.publicUrl);
  const socket = connect({ host: '127.0.0.1', port: Number(port) });
  t.teardown(() => socket.destroy());
  let answer = '';
  socket.setEncoding('utf8').on('data', (chunk: string) => (answer += chunk));
  const closed = new Promise((resolve) => socket.on('close', resolve));
  socket.write(
    'GET /favicon.ico HTTP/1.1\r\nHost: evil.example\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
  );
  await closed;
  t.match(answer, /^HTTP\/1\.1 421 Misdirected Request\r\n/, 'the status line names its own status');
  t.match(answer, /"error":"GH_MISDIRECTED_REQUEST"/, 'and the code says why');
  t.equal(stack.upstream.requests.length, 0, 'nothing reached the helpdesk');
});

t.test('a 421 tells the operator once per peer what to fix (a proxy in front that rewrites Host)', async (t) => {
  const stack = await startTestStack();
  t.teardown(() => stack.close());
  const publicHost = new URL(stack.publicUrl).host;
  for (let i = 0; i < 3; i++) t.equal((await rawRequest(stack.publicUrl, 'GET', '/favicon.ico', [['Host', 'helpdesk-backend:8080']])).status, 421);
  const hints = stack.logs.lines.filter((l) => l.msg?.toString().includes('refused with 421'));
  t.equal(hints.length, 1, 'said once for this peer, not per request');
  t.match(hints[0], { level: 40, peer: '127.0.0.1', host: 'helpdesk-backend:8080', public_host: publicHost, hint: 'proxy_set_header Host $host;' });
});
