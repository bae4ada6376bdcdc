// Graceful shutdown: SIGTERM to a spawned `gatehouse serve` stops accepting,
// lets the request in flight finish, closes websockets (their clients reconnect
// elsewhere) and exits 0 — without waiting for idle keep-alive connections.
import t from 'tap';
import { request } from 'node:http';
import { connect } from 'node:net';
import { WebSocket } from 'ws';
import { startUpstream } from '../helpers/upstream.js';
import { minimalYaml, spawnServe, startFakeProvider, tempDir, writeFile } from '../helpers/ops.js';

/** public_url's host (minimalYaml's default): the gateway serves no other host (421) */
const PUBLIC_HOST = '127.0.0.1:8080';

function get(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    request(url, { headers: { host: PUBLIC_HOST } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    })
      .on('error', reject)
      .end();
  });
}

t.test('SIGTERM drains the request in flight, closes websockets, exits 0', async (t) => {
  const upstream = await startUpstream();
  t.teardown(() => upstream.close());
  const provider = await startFakeProvider();
  t.teardown(() => provider.close());
  const file = writeFile(
    tempDir(t),
    'gateway.yaml',
    // a drain bound of 21 s (upstream.timeout 20 s + 1 s): exiting well before it shows the drain ended with the last request
    minimalYaml({
      issuer: provider.issuer,
      upstream: upstream.url,
      extra: `workers: 1\nlisten:\n  host: 127.0.0.1\n  port: 0\npublic_paths: [/slow, /favicon.ico, /ws]\n`,
    }).replace('timeout: 5s', 'timeout: 20s'),
  );
  const serve = spawnServe(file);
  t.teardown(() => serve.kill());
  const { url: base, port } = await serve.listening();

  // an idle keep-alive connection must not hold the shutdown
  t.equal((await get(`${base}/favicon.ico`)).status, 200);
  const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`, { headers: { host: PUBLIC_HOST } });
  const wsClosed = new Promise<number>((resolve) => ws.on('close', (code) => resolve(code)));
  ws.on('error', () => {});
  await new Promise((resolve) => ws.once('message', resolve));

  const slow = get(`${base}/slow?ms=1500`);
  await upstream.arrival((r) => r.url.startsWith('/slow')); // in flight: the helpdesk has it
  const signalledAt = performance.now();
  serve.child.kill('SIGTERM');
  await serve.waitForLog((l) => l.msg === 'draining in-flight requests');

  t.ok(await wsClosed, 'the websocket is closed at once');
  await t.rejects(get(`${base}/favicon.ico`), { code: 'ECONNREFUSED' }, 'no new connections are accepted');
  const answer = await slow;
  t.equal(answer.status, 200, 'the request in flight completes');
  t.match(JSON.parse(answer.body), { url: '/slow?ms=1500' });
  const exit = await serve.exited;
  const took = performance.now() - signalledAt;
  t.equal(exit.code, 0, 'exit code 0');
  t.ok(took < 10_000, `exited soon after the last request (${Math.round(took)} ms), not at the drain bound`);
  t.ok(serve.lines.some((l) => l.msg === 'drained; exiting'));
});

t.test('a client that stalls mid-upload is cut at the bound, and the process still exits 0', async (t) => {
  const upstream = await startUpstream();
  t.teardown(() => upstream.close());
  const provider = await startFakeProvider();
  t.teardown(() => provider.close());
  // bound = upstream.timeout (1 s) + 1 s
  const file = writeFile(
    tempDir(t),
    'gateway.yaml',
    minimalYaml({
      issuer: provider.issuer,
      upstream: upstream.url,
      extra: `workers: 1\nlisten:\n  host: 127.0.0.1\n  port: 0\npublic_paths: [/upload]\n`,
    }).replace('timeout: 5s', 'timeout: 1s'),
  );
  const serve = spawnServe(file);
  t.teardown(() => serve.kill());
  const { port } = await serve.listening();
  const socket = connect({ host: '127.0.0.1', port });
  t.teardown(() => socket.destroy());
  const socketClosed = new Promise((resolve) => socket.on('close', resolve));
  socket.on('error', () => {});
  socket.write(`POST /upload HTTP/1.1\r\nHost: ${PUBLIC_HOST}\r\nContent-Length: 1000\r\n\r\n${'x'.repeat(10)}`);
  await upstream.arrival((r) => r.url === '/upload'); // in flight: forwarded, its body still coming
  const signalledAt = performance.now();
  serve.child.kill('SIGTERM');
  const exit = await serve.exited;
  const took = performance.now() - signalledAt;
  t.equal(exit.code, 0);
  t.ok(took >= 1900 && took < 8000, `cut at the bound of 2 s (${Math.round(took)} ms)`);
  await socketClosed;
  t.pass('the stalled connection was closed');
});
