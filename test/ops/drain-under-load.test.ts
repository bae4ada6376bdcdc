// SIGTERM under a steady keep-alive load (issue 12, finding 1): every request
// is recorded. A client that honours `Connection: close` must see no reset; every
// answer the gateway writes after the signal says `Connection: close`; the
// process exits as soon as the last request in flight is answered, not at the
// drain bound (upstream.timeout 20 s + 1 s here).
import t from 'tap';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Pool } from 'undici';
import { claimPort } from '../helpers/ports.js';
import { minimalYaml, spawnServe, startFakeProvider, tempDir, writeFile } from '../helpers/ops.js';

const CONNECTIONS = 8;
/** each steady request waits this long at the helpdesk, so requests are in flight whenever the signal lands */
const STEADY_MS = 20;
const SLOW_MS = 1500;

interface Recorded {
  id: number;
  sentAt: number;
  answeredAt?: number;
  status?: number;
  connectionClose?: boolean;
  error?: string;
}

/** A helpdesk that answers /load?id=N&ms=M after M ms and notes, by id, when it answered (this process's clock). */
async function startTimedUpstream(): Promise<{ url: string; answeredAt: Map<string, number>; received: Set<string>; close(): Promise<void> }> {
  const answeredAt = new Map<string, number>();
  const received = new Set<string>();
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://upstream');
    const id = url.searchParams.get('id') ?? '';
    received.add(id);
    setTimeout(
      () => {
        answeredAt.set(id, performance.now());
        res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '2' });
        res.end('ok');
      },
      Number(url.searchParams.get('ms') ?? 0),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    answeredAt,
    received,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

t.test('SIGTERM under steady keep-alive load: no reset, Connection: close after the signal, exit with the last answer', async (t) => {
  const upstream = await startTimedUpstream();
  t.teardown(() => upstream.close());
  const provider = await startFakeProvider();
  t.teardown(() => provider.close());
  const port = claimPort().port;
  const base = `http://127.0.0.1:${port}`;
  const file = writeFile(
    tempDir(t),
    'gateway.yaml',
    minimalYaml({
      issuer: provider.issuer,
      upstream: upstream.url,
      publicUrl: base,
      extra: `workers: 1\nlisten:\n  host: 127.0.0.1\n  port: ${port}\npublic_paths: [/load]\nlog:\n  level: info\n`,
    }).replace('timeout: 5s', 'timeout: 20s'),
  );
  const serve = spawnServe(file);
  t.teardown(() => serve.kill());
  await serve.waitForLog((l) => l.msg === 'gatehouse listening');

  let exited = false;
  const exit = serve.exited.then((e) => {
    exited = true;
    return { ...e, at: performance.now() };
  });
  const pool = new Pool(base, { connections: CONNECTIONS + 1, pipelining: 1 });
  t.teardown(() => pool.destroy());
  const records: Recorded[] = [];
  let nextId = 0;
  let answered = 0;
  let onAnswered: (() => void) | null = null;
  const send = async (ms: number): Promise<Recorded> => {
    const r: Recorded = { id: nextId++, sentAt: performance.now() };
    records.push(r);
    try {
      const res = await pool.request({ path: `/load?id=${r.id}&ms=${ms}`, method: 'GET' });
      await res.body.text();
      r.answeredAt = performance.now();
      r.status = res.statusCode;
      r.connectionClose = String(res.headers.connection ?? '').toLowerCase() === 'close';
      answered++;
      onAnswered?.();
    } catch (error) {
      r.error = (error as { code?: string }).code ?? (error as Error).message;
    }
    return r;
  };
  // steady clients: each sends its next request as soon as the last is answered, until the gateway turns it away
  const loops = Array.from({ length: CONNECTIONS }, async () => {
    for (let i = 0; i < 5000 && !exited; i++) if ((await send(STEADY_MS)).error) return;
  });
  await new Promise<void>((resolve) => {
    onAnswered = () => answered >= 200 && resolve();
  });
  const slowRecord = send(SLOW_MS);
  const slowId = String(nextId - 1);
  while (!upstream.received.has(slowId)) await new Promise((r) => setImmediate(r)); // until the slow request is at the helpdesk
  const signalledAt = performance.now();
  serve.child.kill('SIGTERM');
  await serve.waitForLog((l) => l.msg === 'draining in-flight requests');
  const drainSeenAt = performance.now();
  await Promise.all(loops);
  const slow = await slowRecord;
  const { code, at: exitedAt } = await exit;

  const failures = records.filter((r) => r.error !== undefined && r.error !== 'ECONNREFUSED');
  t.same(
    failures.map((r) => r.error),
    [],
    `no request reset or cut (${records.length} sent, ${answered} answered)`,
  );
  t.ok(
    records.every((r) => r.error !== undefined || r.status === 200),
    'every answer is a 200',
  );
  // the helpdesk answered these after the gateway had begun to drain, so the gateway wrote their heads after the signal
  const afterSignal = records.filter((r) => r.status !== undefined && (upstream.answeredAt.get(String(r.id)) ?? 0) > drainSeenAt);
  t.ok(afterSignal.length >= 1, `answers written after the signal: ${afterSignal.length}`);
  t.same(
    afterSignal.filter((r) => !r.connectionClose).map((r) => r.id),
    [],
    'each of them says Connection: close',
  );
  t.equal(slow.status, 200, 'the slow request in flight at the signal is answered');
  t.ok(slow.connectionClose, 'and says Connection: close');
  t.equal(code, 0, 'exit code 0');
  const lastAnswer = Math.max(...records.map((r) => r.answeredAt ?? 0));
  t.ok(exitedAt - lastAnswer < 1000, `exited ${Math.round(exitedAt - lastAnswer)} ms after the last answer`);
  t.ok(exitedAt - signalledAt < SLOW_MS + 3000, `exited ${Math.round(exitedAt - signalledAt)} ms after the signal, well before the 21 s bound`);
  t.ok(serve.lines.some((l) => l.msg === 'drained; exiting'));
});

t.test('during the drain, the reserved endpoints answer on kept-alive connections: readiness 503, a sign-in start its redirect', async (t) => {
  const upstream = await startTimedUpstream();
  t.teardown(() => upstream.close());
  const provider = await startFakeProvider();
  t.teardown(() => provider.close());
  const port = claimPort().port;
  const base = `http://127.0.0.1:${port}`;
  const file = writeFile(
    tempDir(t),
    'gateway.yaml',
    minimalYaml({
      issuer: provider.issuer,
      upstream: upstream.url,
      publicUrl: base,
      extra: `workers: 1\nlisten:\n  host: 127.0.0.1\n  port: ${port}\npublic_paths: [/load]\n`,
    }).replace('timeout: 5s', 'timeout: 20s'),
  );
  const serve = spawnServe(file);
  t.teardown(() => serve.kill());
  await serve.waitForLog((l) => l.msg === 'gatehouse listening');
  const probe = new Pool(base, { connections: 1 });
  const browser = new Pool(base, { connections: 1 });
  const holder = new Pool(base, { connections: 1 });
  t.teardown(() => Promise.all([probe.destroy(), browser.destroy(), holder.destroy()]));
  // both connections are open and kept alive before the signal
  t.equal(((await (await probe.request({ path: '/.gatehouse/healthz', method: 'GET' })).body.json()) as { status: string }).status, 'ok');
  t.equal((await browser.request({ path: '/.gatehouse/login?realm=agent&rd=/agent/', method: 'GET' })).statusCode, 302);
  const held = holder.request({ path: '/load?id=held&ms=1500', method: 'GET' }); // keeps the process draining
  while (!upstream.received.has('held')) await new Promise((r) => setImmediate(r));
  serve.child.kill('SIGTERM');
  await serve.waitForLog((l) => l.msg === 'draining in-flight requests');

  const ready = await probe.request({ path: '/.gatehouse/readyz', method: 'GET' });
  t.equal(ready.statusCode, 503, 'readiness answers 503 while draining');
  t.same(await ready.body.json(), { ready: false, draining: true });
  t.equal(ready.headers.connection, 'close');
  const login = await browser.request({ path: '/.gatehouse/login?realm=agent&rd=/agent/', method: 'GET' });
  await login.body.dump();
  t.equal(login.statusCode, 302, 'a sign-in start is still sent to the provider, not a bare 503');
  t.equal(login.headers.connection, 'close');
  t.equal((await held).statusCode, 200);
  t.equal((await serve.exited).code, 0);
});
