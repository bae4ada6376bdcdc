// A signed-out browser form POST to a realm path is read by the gateway itself
// (preserve-post.ts keeps what was typed across the sign-in). Red-team finding:
// that read had no deadline (the server's requestTimeout is 0, body deadlines
// lived only in the forwarding path), so an anonymous client could send such a
// POST's body a byte at a time — or never — and hold a gateway connection and
// a handler for as long as it liked, as many times as it liked. The body now
// gets the forwarding rules: limits.body_timeout plus 1 s per
// limits.body_min_rate bytes, then the answer, and the connection is closed.
import t from 'tap';
import { connect } from 'node:net';
import { startTestStack } from '../helpers/stack.js';

t.test('a form POST body that stops arriving is answered within limits.body_timeout', async (t) => {
  // the rule under test is "body_timeout"; 2 s keeps the file fast (the default is 10 s)
  const stack = await startTestStack({ editYaml: (y) => `${y}\nlimits:\n  body_timeout: 2s\n` });
  t.teardown(() => stack.close());
  const { hostname, port, host } = new URL(stack.publicUrl);
  const socket = connect(Number(port), hostname);
  t.teardown(() => socket.destroy());
  const opened = performance.now();
  let received = '';
  socket.on('data', (c: Buffer) => (received += c.toString('latin1')));
  const closed = new Promise<number>((resolve) => socket.on('close', () => resolve(performance.now() - opened)));
  socket.on('error', () => {});
  socket.write(`POST /agent/tickets/7 HTTP/1.1\r\nHost: ${host}\r\nOrigin: ${stack.publicUrl}\r\nSec-Fetch-Mode: navigate\r\nSec-Fetch-Site: same-origin\r\nAccept: text/html\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\nreply=th`);
  const timer = setTimeout(() => socket.destroy(), 8000);
  const ms = await closed;
  clearTimeout(timer);
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(received)?.[1]);
  t.ok(status >= 400 && status < 500, `answered with a refusal, not left waiting (${status || 'no answer'})`);
  t.ok(ms < 5000, `the connection was closed after about body_timeout (${Math.round(ms)} ms)`);
  t.equal(stack.upstream.requests.length, 0, 'nothing reached the helpdesk');
});

t.test('so does a slow body to the gateway\'s own POST routes (back-channel logout, sign-in, sign-out)', async (t) => {
  const stack = await startTestStack({ editYaml: (y) => `${y}\nlimits:\n  body_timeout: 2s\n` });
  t.teardown(() => stack.close());
  const { hostname, port, host } = new URL(stack.publicUrl);
  const paths = ['/.gatehouse/backchannel-logout/agent', '/.gatehouse/login', '/agent/logout', '/.gatehouse/admin/sign-out'];
  const results = await Promise.all(paths.map((path) => new Promise<{ status: number; ms: number }>((resolve) => {
    const socket = connect(Number(port), hostname);
    const opened = performance.now();
    let received = '';
    socket.on('data', (c: Buffer) => (received += c.toString('latin1')));
    socket.on('error', () => {});
    const timer = setTimeout(() => socket.destroy(), 8000);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(received)?.[1] ?? 0), ms: performance.now() - opened });
    });
    // 100 bytes announced: allowed body_timeout + 0.2 s at the default body_min_rate (500 bytes/s)
    socket.write(`POST ${path} HTTP/1.1\r\nHost: ${host}\r\nOrigin: ${stack.publicUrl}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\nlogout_token=a`);
  })));
  for (const [i, { status, ms }] of results.entries()) {
    t.equal(status, 408, `${paths[i]}: 408 GH_BODY_TIMEOUT`);
    t.ok(ms < 5000, `${paths[i]}: the connection was closed after about body_timeout (${Math.round(ms)} ms)`);
  }
});
