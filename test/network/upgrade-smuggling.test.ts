// WebSocket upgrade smuggling, judged by a real nginx as the helpdesk. An
// upgrade that announces a body (Content-Length, Transfer-Encoding) but is
// forwarded without one leaves nginx waiting for that body on the connection;
// if the gateway then reuses the connection, nginx reads the start of the next
// request as the body and parses the rest as a request the attacker wrote —
// carrying the identity headers the gateway added for the sender, on a path
// the gateway never judged. Whatever the gateway answers, nginx must never
// serve the smuggled path; upgrades with a body are refused, and no upgrade
// shares a connection to the helpdesk with any other request. Only WebSocket
// upgrades are forwarded: after an h2c upgrade the connection would carry
// HTTP/2 requests to any path, with any headers, that the gateway never sees.
import t from 'tap';
import WebSocket from 'ws';
import { BOB, startTestStack, type TestStack } from '../helpers/stack.js';
import { rawRequest } from '../helpers/hostile-provider.js';
import { startNginxHelpdesk, type NginxHelpdesk } from '../helpers/nginx-helpdesk.js';

const KEY = 'dGhlIHNhbXBsZSBub25jZQ==';

function upgrade(host: string, path: string, cookie: string, lines: string[]): string {
  return (
    [
      `GET ${path} HTTP/1.1`,
      ...lines,
      `Host: ${host}`,
      `Cookie: ${cookie}`,
      'Connection: Upgrade',
      'Upgrade: websocket',
      'Sec-WebSocket-Version: 13',
      `Sec-WebSocket-Key: ${KEY}`,
    ].join('\r\n') + '\r\n\r\n'
  );
}

async function withStack(t: { teardown(fn: () => unknown): void }): Promise<{ nginx: NginxHelpdesk; stack: TestStack; cookie: string; host: string }> {
  const nginx = await startNginxHelpdesk();
  t.teardown(() => nginx.close());
  const stack = await startTestStack({ upstreamUrl: nginx.url });
  t.teardown(() => stack.close());
  const cookie = (await stack.signIn('/', BOB)).jar.cookieHeader(`${stack.publicUrl}/`)!;
  return { nginx, stack, cookie, host: new URL(stack.publicUrl).host };
}

t.test('an upgrade announcing a body cannot smuggle a request into nginx', async (t) => {
  const { nginx, stack, cookie, host } = await withStack(t);
  // the gateway writes the second handshake as "GET /tickets HTTP/1.1\r\nX-Pad: <filler>..." (the
  // client's headers first, in order): the first handshake's Content-Length is where the smuggled
  // request line starts in it
  const filler = 'a'.repeat(16);
  const smuggledLine = 'GET /agent/smuggled HTTP/1.1';
  const offset = Buffer.byteLength(`GET /tickets HTTP/1.1\r\nX-Pad: ${filler}`);
  const attacks: Array<[string, string[]]> = [
    ['Content-Length', [`Content-Length: ${offset}`]],
    ['Transfer-Encoding', ['Transfer-Encoding: chunked']],
  ];
  for (const [label, lines] of attacks) {
    const before = (await nginx.served()).length;
    const first = await rawRequest(stack.publicUrl, upgrade(host, '/tickets', cookie, lines), { timeoutMs: 3000 });
    const second = await rawRequest(stack.publicUrl, upgrade(host, '/tickets', cookie, [`X-Pad: ${filler}${smuggledLine}`]), { timeoutMs: 3000 });
    const served = (await nginx.served()).slice(before);
    t.notOk(
      served.some((e) => e.uri.includes('smuggled')),
      `${label}: nginx never served the smuggled path (${JSON.stringify(served.map((e) => [e.uri, e.subject]))})`,
    );
    t.match(first, /^HTTP\/1\.1 400 /, `${label}: the upgrade with a body is refused (${first.slice(0, 20)})`);
    t.match(first, /GH_BAD_REQUEST/, `${label}: GH_BAD_REQUEST`);
    t.notOk(
      served.some((e) => e.requestUri === '/tickets' && e.connectionRequests > 1),
      `${label}: no upgrade shared a connection to nginx`,
    );
    t.match(second, /^HTTP\/1\.1 200 /, `${label}: the next upgrade gets nginx's own answer`);
  }
  t.equal((await nginx.served()).filter((e) => e.uri.includes('smuggled')).length, 0);
});

t.test('an upgrade nginx refuses does not leave its connection in a pool', async (t) => {
  const { nginx, stack, cookie, host } = await withStack(t);
  const before = (await nginx.served()).length;
  for (let i = 0; i < 3; i++) {
    const answer = await rawRequest(stack.publicUrl, upgrade(host, '/tickets', cookie, []), { timeoutMs: 3000 });
    t.match(answer, /^HTTP\/1\.1 200 /, `upgrade ${i + 1}: nginx's answer is relayed`);
    t.match(answer, /\r\nconnection: close\r\n/i, `upgrade ${i + 1}: and the client connection closes`);
  }
  const served = (await nginx.served()).slice(before);
  t.equal(served.length, 3, 'nginx served three upgrade attempts');
  t.same(
    served.map((e) => e.connectionRequests),
    [1, 1, 1],
    'each on a connection of its own',
  );
  t.equal(new Set(served.map((e) => e.connection)).size, 3, 'three connections');
  t.ok(
    served.every((e) => e.subject === 'user-bob'),
    'with the identity',
  );

  // a real WebSocket through nginx still works, and its connection is not shared either
  const ws = new WebSocket(`${stack.publicUrl.replace('http:', 'ws:')}/ws`, { headers: { cookie, origin: stack.publicUrl } });
  const greeting = await new Promise<string>((resolve, reject) => {
    ws.once('message', (data) => resolve(data.toString()));
    ws.once('error', reject);
  });
  t.equal(greeting, 'hello user-bob user', 'the WebSocket backend behind nginx saw the identity');
  await new Promise<void>((resolve) => {
    ws.once('close', () => resolve());
    ws.close();
  });
  const after = await rawRequest(stack.publicUrl, upgrade(host, '/tickets', cookie, []), { timeoutMs: 3000 });
  t.match(after, /^HTTP\/1\.1 200 /);
  const all = (await nginx.served()).slice(before);
  t.same(
    all.slice(3).map((e) => [e.uri, e.status, e.connectionRequests]),
    [
      ['/ws', 101, 1],
      ['/tickets', 200, 1],
    ],
    'the WebSocket and the next upgrade each had their own connection',
  );
});

t.test("only WebSocket upgrades are forwarded, with the gateway's own Connection and Upgrade headers", async (t) => {
  const { nginx, stack, cookie, host } = await withStack(t);
  const before = (await nginx.served()).length;
  for (const protocol of ['h2c', 'HTTP/2.0', 'websocket, h2c', 'h2c, websocket', 'TLS/1.2', 'websocketx']) {
    const bytes = upgrade(host, '/tickets', cookie, []).replace('Upgrade: websocket', `Upgrade: ${protocol}`);
    const answer = await rawRequest(stack.publicUrl, bytes, { timeoutMs: 3000 });
    t.match(answer, /^HTTP\/1\.1 400 /, `Upgrade: ${protocol}: refused (${answer.slice(0, 20)})`);
    t.match(answer, /GH_BAD_REQUEST/);
  }
  t.same((await nginx.served()).slice(before), [], 'none reached nginx');

  // a client's Connection list (naming the identity headers, for a proxy behind to strip) is not passed on
  const listed = upgrade(host, '/tickets', cookie, [])
    .replace('Connection: Upgrade', 'Connection: Upgrade, X-Auth-Assertion, X-Auth-Subject')
    .replace('Upgrade: websocket', 'Upgrade: WebSocket');
  t.match(await rawRequest(stack.publicUrl, listed, { timeoutMs: 3000 }), /^HTTP\/1\.1 200 /);
  const served = (await nginx.served()).slice(before);
  t.same(
    served.map((e) => [e.uri, e.connectionHeader, e.upgradeHeader, e.subject]),
    [['/tickets', 'Upgrade', 'websocket', 'user-bob']],
    "nginx saw the gateway's Connection: Upgrade and Upgrade: websocket",
  );
});
