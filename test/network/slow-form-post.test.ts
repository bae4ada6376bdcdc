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

/** Send a request whose body never finishes; resolves with the status (0: none) and when the socket closed. */
function stalledPost(url: string, path: string, headers: string, announced: number, sent: string): Promise<{ status: number; ms: number }> {
  const { hostname, port, host } = new URL(url);
  return new Promise((resolve) => {
    const socket = connect(Number(port), hostname);
    const opened = performance.now();
    let received = '';
    socket.on('data', (c: Buffer) => (received += c.toString('latin1')));
    socket.on('error', () => {});
    const timer = setTimeout(() => socket.destroy(), 20_000); // well past the default deadline: "left waiting"
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(received)?.[1] ?? 0), ms: performance.now() - opened });
    });
    socket.write(
      `POST ${path} HTTP/1.1\r\nHost: ${host}\r\nOrigin: ${url}\r\n${headers}Content-Type: application/x-www-form-urlencoded\r\nContent-Length: ${announced}\r\n\r\n${sent}`,
    );
  });
}

// The shipped defaults (limits.body_timeout 10 s, body_min_rate 500 bytes/s), all stalled bodies at once.
t.test("a body that stops arriving, to a signed-out form POST or to the gateway's own POST routes, is cut at limits.body_timeout", async (t) => {
  const stack = await startTestStack();
  t.teardown(() => stack.close());
  const routes = ['/.gatehouse/backchannel-logout/agent', '/.gatehouse/login', '/agent/logout', '/.gatehouse/admin/sign-out'];
  const [form, ...own] = await Promise.all([
    // a signed-out form POST, read by the gateway itself to keep what was typed (preserve-post.ts)
    stalledPost(stack.publicUrl, '/agent/tickets/7', 'Sec-Fetch-Mode: navigate\r\nSec-Fetch-Site: same-origin\r\nAccept: text/html\r\n', 1000, 'reply=th'),
    // 100 bytes announced: allowed body_timeout + 0.2 s at body_min_rate
    ...routes.map((path) => stalledPost(stack.publicUrl, path, '', 100, 'logout_token=a')),
  ]);
  t.ok(form!.status >= 400 && form!.status < 500, `the form POST is answered with a refusal, not left waiting (${form!.status || 'no answer'})`);
  t.ok(form!.ms > 9000 && form!.ms < 13_000, `and its connection closed at about body_timeout + 1 s per 500 bytes (${Math.round(form!.ms)} ms)`);
  for (const [i, { status, ms }] of own.entries()) {
    t.equal(status, 408, `${routes[i]}: 408 GH_BODY_TIMEOUT`);
    t.ok(ms > 9000 && ms < 13_000, `${routes[i]}: the connection closed at about body_timeout (${Math.round(ms)} ms)`);
  }
  t.equal(stack.upstream.requests.length, 0, 'nothing reached the helpdesk');
});
