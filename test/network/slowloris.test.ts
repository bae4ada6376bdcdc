// Slowloris: clients open connections and send their request headers a byte at
// a time (or not at all after the first line), to hold the gateway's sockets.
// With limits.header_timeout: 1s each must be cut off (408 or closed) within a
// few seconds (Node's default check interval alone is 30 s), while other clients
// are served normally all along. The bounds leave room for a busy CI machine.
import t from 'tap';
import { connect, type Socket } from 'node:net';
import { request } from 'undici';
import { startHostileStack } from '../helpers/hostile-provider.js';

t.test('slow header senders are cut off, others are served', async (t) => {
  const stack = await startHostileStack({ editYaml: (y) => y.replace('limits:\n', 'limits:\n  header_timeout: 1s\n') });
  t.teardown(() => stack.close());
  const { hostname, port } = new URL(stack.gateway.url);
  const host = new URL(stack.publicUrl).host;
  const started = Date.now();
  const slow: Array<{ socket: Socket; closedAfterMs: Promise<number>; timer: NodeJS.Timeout }> = [];
  for (let i = 0; i < 20; i++) {
    const socket = connect(Number(port), hostname);
    socket.on('error', () => {});
    const text = `GET /favicon.ico HTTP/1.1\r\nHost: ${host}\r\nX-Slow: ${'s'.repeat(200)}\r\n`;
    let at = 0;
    // one byte every 100 ms: far slower than any real client, never finishing the headers within 10 s
    const timer = setInterval(() => {
      if (at < text.length && socket.writable) socket.write(text[at++]!);
    }, 100);
    const closedAfterMs = new Promise<number>((resolve) => socket.on('close', () => resolve(Date.now() - started)));
    slow.push({ socket, closedAfterMs, timer });
  }
  t.teardown(() => {
    for (const s of slow) {
      clearInterval(s.timer);
      s.socket.destroy();
    }
  });

  // meanwhile, ordinary clients are served promptly
  for (let i = 0; i < 10; i++) {
    const t0 = Date.now();
    const res = await request(`${stack.gateway.url}/favicon.ico`, { headers: { host } });
    await res.body.dump();
    t.equal(res.statusCode, 200, `ordinary request ${i + 1} served`);
    t.ok(Date.now() - t0 < 3000, `ordinary request ${i + 1} answered in ${Date.now() - t0} ms`);
    await new Promise((r) => setTimeout(r, 150));
  }
  const closed = await Promise.race([Promise.all(slow.map((s) => s.closedAfterMs)), new Promise<null>((r) => setTimeout(() => r(null), 8000).unref())]);
  t.ok(closed !== null, 'every slow connection was closed by the gateway');
  if (closed) t.ok(Math.max(...closed) < 8000, `within ${Math.max(...closed)} ms (header_timeout 1s)`);
  t.notOk(
    stack.upstream.requests.some((r) => r.headers['x-slow'] !== undefined),
    'no slow request was forwarded',
  );
});
