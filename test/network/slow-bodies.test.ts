// Slow request bodies ("slow POST", R-U-Dead-Yet): anonymous clients send a
// request body to a public path a byte every 3 s, so that each forwarded
// request holds a helpdesk connection for as long as they like. With the
// shipped defaults (the demo config: upstream.max_connections 128,
// limits.body_timeout 10s, limits.body_min_rate 500 bytes/s):
//   - 140 such clients cannot keep a signed-in person from being answered at
//     once: anonymous requests may hold only a quarter of the connections, and
//     signed-in requests go first when one frees;
//   - a body that stops arriving is cut off with 408 after body_timeout, the
//     half body never reaches the helpdesk as a request, and the pool goes on;
//   - a body that keeps coming at more than body_min_rate is never cut, even
//     when it takes longer than body_timeout (a large upload on a slow link).
import t from 'tap';
import { connect, type Socket } from 'node:net';
import { request } from 'undici';
import { ALICE, startTestStack, type TestStack } from '../helpers/stack.js';

interface SlowSender {
  socket: Socket;
  /** what the gateway answered (its status line), and when the connection ended, in ms since it was opened */
  ended: Promise<{ status: number | null; ms: number }>;
  stop(): void;
}

/** A POST whose body comes `bytesPerTick` bytes every `tickMs`; it never finishes by itself. */
function slowPost(stack: TestStack, path: string, bytesPerTick: number, tickMs: number, headers: string[] = []): SlowSender {
  const { hostname, port, host } = new URL(stack.publicUrl);
  const socket = connect(Number(port), hostname);
  const opened = performance.now();
  let received = '';
  socket.on('error', () => {});
  socket.on('data', (c: Buffer) => (received += c.toString('latin1')));
  socket.write(
    `POST ${path} HTTP/1.1\r\nHost: ${host}\r\nContent-Type: application/octet-stream\r\nContent-Length: 10000000\r\n${headers.map((h) => `${h}\r\n`).join('')}\r\n`,
  );
  const send = () => socket.writable && socket.write('x'.repeat(bytesPerTick));
  send();
  const timer = setInterval(send, tickMs);
  const ended = new Promise<{ status: number | null; ms: number }>((resolve) =>
    socket.on('close', () => {
      clearInterval(timer);
      const status = /^HTTP\/1\.1 (\d{3})/.exec(received);
      resolve({ status: status ? Number(status[1]) : null, ms: performance.now() - opened });
    }),
  );
  const stop = (): void => {
    clearInterval(timer);
    socket.destroy();
  };
  return { socket, ended, stop };
}

async function publicRequestsCounted(stack: TestStack): Promise<number> {
  const res = await request(`${stack.publicUrl}/.gatehouse/metrics`);
  const text = await res.body.text();
  return Number(/gatehouse_requests_total\{realm="-",outcome="public"\} (\d+)/.exec(text)?.[1] ?? 0);
}

t.test('140 slow anonymous bodies do not keep a signed-in person waiting', async (t) => {
  const stack = await startTestStack();
  t.teardown(() => stack.close());
  const { jar } = await stack.signIn('/agent/', ALICE);
  const cookie = jar.cookieHeader(`${stack.publicUrl}/agent`)!;
  const before = stack.upstream.requests.length;

  const senders = Array.from({ length: 140 }, () => slowPost(stack, '/favicon.ico', 1, 3000));
  t.teardown(() => {
    for (const s of senders) s.stop();
  });
  // every slow request has been taken up by the gateway (and forwarded, as far as it forwards them)
  for (let tries = 0; (await publicRequestsCounted(stack)) < senders.length; tries++) {
    if (tries > 200) throw new Error('the gateway did not take up the slow requests');
    await new Promise((r) => setImmediate(r));
  }

  for (const [method, body] of [
    ['GET', undefined],
    ['POST', 'reply=thanks'],
  ] as const) {
    const started = performance.now();
    const res = await request(`${stack.publicUrl}/agent/tickets/7`, {
      method,
      body,
      headers: { cookie, accept: 'application/json', 'content-type': 'application/x-www-form-urlencoded' },
      headersTimeout: 20_000,
    });
    await res.body.dump();
    const ms = performance.now() - started;
    t.equal(res.statusCode, 200, `signed-in ${method} answered`);
    t.ok(ms < 2000, `signed-in ${method} answered in ${Math.round(ms)} ms while 140 slow bodies are being sent`);
  }
  t.notOk(
    stack.upstream.requests.slice(before).some((r) => r.url === '/favicon.ico'),
    'no slow body reached the helpdesk as a whole request',
  );
});

t.test('a body that stops arriving gets 408 after limits.body_timeout; one that keeps coming is not cut', async (t) => {
  const stack = await startTestStack();
  t.teardown(() => stack.close());
  const { jar } = await stack.signIn('/agent/', ALICE);
  const cookie = jar.cookieHeader(`${stack.publicUrl}/agent`)!;

  const stalled = slowPost(stack, '/favicon.ico', 1, 3000);
  const stalledSignedIn = slowPost(stack, '/agent/upload', 1, 3000, [`Cookie: ${cookie}`]);
  // 600 bytes/s, above the 500 bytes/s minimum, for longer than body_timeout
  const steady = slowPost(stack, '/agent/upload-steady', 60, 100, [`Cookie: ${cookie}`]);
  t.teardown(() => {
    for (const s of [stalled, stalledSignedIn, steady]) s.stop();
  });

  const started = performance.now();
  const giveUp = new Promise<{ status: null; ms: number }>((resolve) => setTimeout(() => resolve({ status: null, ms: Infinity }), 20_000).unref());
  for (const [name, sender] of [
    ['anonymous', stalled],
    ['signed-in', stalledSignedIn],
  ] as const) {
    const { status, ms } = await Promise.race([sender.ended, giveUp]);
    t.equal(status, 408, `${name}: 408 Request Timeout`);
    t.ok(ms >= 9500 && ms < 13_000, `${name}: cut after the 10 s body_timeout (${Math.round(ms)} ms)`);
  }
  // the steady upload has to outlive body_timeout by a margin: a cut at 10 s would have come by now
  await new Promise((r) => setTimeout(r, Math.max(0, 12_000 - (performance.now() - started))));
  t.equal(steady.socket.destroyed, false, 'the steady upload is still going 12 s in');
  steady.stop();

  t.notOk(
    stack.upstream.requests.some((r) => r.method === 'POST'),
    'no half body reached the helpdesk as a request',
  );
  const after = await request(`${stack.publicUrl}/agent/tickets`, { headers: { cookie, accept: 'application/json' } });
  await after.body.dump();
  t.equal(after.statusCode, 200, 'the pool serves the next request');
});
