// `gatehouse serve` with workers: 2 and no Redis behaves as one gateway: the
// real dist/cli.js, the real demo provider, a recording upstream. Every replay
// goes on a new connection, so the cluster hands them to both workers in turn
// (the x-request-id prefix names the worker that answered, and the test checks
// both answered). After a sign-out or a back-channel logout has been answered,
// no replay of the old cookie reaches the upstream; a callback replayed on the
// other worker is refused as reused; failed callbacks are counted across
// workers; one metrics scrape counts both workers; a worker killed with
// SIGKILL is replaced, and the new one knows the earlier sign-outs.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { demoClients, demoYaml } from '../../src/demo/stack.js';
import { claimPort } from '../helpers/ports.js';
import { startDemoProvider, DEMO_ACCOUNTS } from '../../src/demo/provider.js';
import { startUpstream } from '../helpers/upstream.js';
import { spawnServe, tempDir, writeFile, type ServeProcess } from '../helpers/ops.js';
import { CookieJar, signIn, signOut } from '../helpers/browserless.js';

const ALICE = { username: 'alice', password: 'alice-demo' };
const REPLAYS = 24;

const publicUrl = `http://127.0.0.1:${claimPort().port}`;
const metricsPort = claimPort().port;
const provider = await startDemoProvider({ port: 0, clients: demoClients(publicUrl), accounts: DEMO_ACCOUNTS });
t.teardown(() => provider.close());
const upstream = await startUpstream();
t.teardown(() => upstream.close());
const dir = tempDir(t);
const yaml = `${demoYaml(publicUrl, provider.issuer, upstream.url)}workers: 2\nmetrics:\n  listen:\n    port: ${metricsPort}\n`;
const serve: ServeProcess = spawnServe(writeFile(dir, 'gateway.yaml', yaml), { GATEHOUSE_DEMO_SECRET: 'a-demo-secret-of-at-least-32-characters-0123' });
t.teardown(() => serve.kill());
/** resolves when `n` workers have said "gatehouse listening" since the start */
const listening = (n: number): Promise<unknown> =>
  serve.waitForLog((l) => l.msg === 'gatehouse listening' && serve.lines.filter((x) => x.msg === 'gatehouse listening').length >= n, 30_000);
await listening(2);

interface Answer {
  status: number;
  /** the answering worker: request ids start with a per-process prefix (a forwarded request's is the one the helpdesk got) */
  worker: string;
  body: string;
}

/** One request on a connection of its own (the cluster deals connections to the workers in turn). */
let hits = 0;
function hit(path: string, headers: Record<string, string>): Promise<Answer> {
  const testId = String(++hits);
  return new Promise((resolve, reject) => {
    const req = request(`${publicUrl}${path}`, { agent: false, headers: { connection: 'close', 'x-test-id': testId, ...headers } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => {
        const forwarded = upstream.requests.find((r) => r.headers['x-test-id'] === testId);
        const id = forwarded ? forwarded.headers['x-request-id'] : res.headers['x-request-id'];
        resolve({ status: res.statusCode ?? 0, worker: String(id ?? '').split('-')[0]!, body });
      });
    });
    req.on('error', reject);
    req.end();
  });
}

const XHR = { accept: 'application/json' };

/** Replay `cookie` REPLAYS times; how many reached the upstream, and which workers answered. */
async function replay(cookie: string): Promise<{ reached: number; statuses: Set<number>; workers: Set<string> }> {
  const before = upstream.requests.length;
  const statuses = new Set<number>();
  const workers = new Set<string>();
  for (let i = 0; i < REPLAYS; i++) {
    const answer = await hit(`/agent/api/replay-${i}`, { ...XHR, cookie });
    statuses.add(answer.status);
    workers.add(answer.worker);
  }
  return { reached: upstream.requests.length - before, statuses, workers };
}

async function signedInCookie(t: Tap.Test): Promise<{ jar: CookieJar; cookie: string }> {
  const flow = await signIn(`${publicUrl}/agent/tickets`, ALICE);
  t.equal(flow.final.status, 200, 'signed in');
  const cookie = flow.jar.cookieHeader(`${publicUrl}/agent/tickets`);
  // both workers serve the session, and have it cached from now on
  const warm = await replay(cookie);
  t.equal(warm.reached, REPLAYS, 'every request of the signed-in cookie reached the helpdesk');
  t.equal(warm.workers.size, 2, 'both workers answered');
  return { jar: flow.jar, cookie };
}

t.test('a sign-out holds on every worker once it is answered: no replay of the old cookie reaches the helpdesk', async (t) => {
  const { jar, cookie } = await signedInCookie(t);
  const out = await signOut(`${publicUrl}/agent/logout`, { jar });
  t.ok(out.final.status < 500, 'signed out');
  const after = await replay(cookie);
  t.equal(after.reached, 0, 'zero replays reached the helpdesk');
  t.same([...after.statuses], [401], 'every replay answered 401');
  t.equal(after.workers.size, 2, 'both workers answered replays');
});

t.test('a back-channel logout holds on every worker once the provider has its answer', async (t) => {
  const { jar, cookie } = await signedInCookie(t);
  const delivered: string[] = [];
  const onOk = (): number => delivered.push('ok');
  const onError = (_ctx: unknown, error: Error): number => delivered.push(`error: ${error.message}`);
  provider.provider.on('backchannel.success', onOk);
  provider.provider.on('backchannel.error', onError);
  t.teardown(() => {
    provider.provider.off('backchannel.success', onOk);
    provider.provider.off('backchannel.error', onError);
  });
  const metadata = (await (await fetch(`${provider.issuer}/.well-known/openid-configuration`)).json()) as { end_session_endpoint: string };
  await signOut(metadata.end_session_endpoint, { jar, method: 'GET' });
  t.same(delivered, ['ok'], 'the provider delivered the logout token and got 200');
  const after = await replay(cookie);
  t.equal(after.reached, 0, 'zero replays reached the helpdesk');
  t.equal(after.workers.size, 2, 'both workers answered replays');
});

/** Keeps every cookie it was ever given, so a test can replay an attempt cookie the callback cleared. */
class RecordingJar extends CookieJar {
  readonly seen = new Map<string, string>();
  override setFromResponse(url: string, header: string | string[] | undefined): void {
    for (const line of header === undefined ? [] : Array.isArray(header) ? header : [header]) {
      const [pair = ''] = line.split(';');
      const eq = pair.indexOf('=');
      if (eq > 0 && eq < pair.length - 1) this.seen.set(pair.slice(0, eq).trim(), pair.slice(eq + 1).trim());
    }
    super.setFromResponse(url, header);
  }
}

t.test('a callback is spent once across workers: replayed on either worker it is refused as reused', async (t) => {
  const jar = new RecordingJar();
  const flow = await signIn(`${publicUrl}/agent/tickets`, ALICE, { jar });
  t.equal(flow.final.status, 200, 'signed in');
  const callback = flow.hops.find((h) => h.includes('/agent/login/authenticate-callback/1?'));
  t.ok(callback, 'the flow went through the callback');
  const attempt = [...jar.seen].filter(([name]) => name.includes('attempt') || name.includes('login')).map(([n, v]) => `${n}=${v}`);
  t.ok(attempt.length > 0, 'the attempt cookie was seen');
  const path = new URL(callback!).pathname + new URL(callback!).search;
  const codes = new Set<string>();
  const workers = new Set<string>();
  for (let i = 0; i < 8; i++) {
    const answer = await hit(path, { ...XHR, cookie: attempt.join('; ') });
    workers.add(answer.worker);
    codes.add(`${answer.status} ${(JSON.parse(answer.body) as { error?: string }).error}`);
  }
  t.same([...codes], ['400 GH_STATE_REUSED'], 'every replay refused: the state was spent');
  t.equal(workers.size, 2, 'both workers were asked');
});

t.test('one scrape of the metrics listener counts the requests of both workers; the public port has none', async (t) => {
  const scrape = async (): Promise<number> => {
    const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    const line = text.split('\n').find((l) => l.startsWith('gatehouse_requests_total{realm="-",outcome="public"}'));
    return line ? Number(line.split(' ')[1]) : 0;
  };
  const before = await scrape();
  const workers = new Set<string>();
  for (let i = 0; i < 10; i++) workers.add((await hit('/favicon.ico', {})).worker);
  t.equal(workers.size, 2, 'both workers answered');
  t.equal((await scrape()) - before, 10, 'the scrape counts all 10 requests');
  const publicScrape = await hit('/.gatehouse/metrics', {});
  t.equal(publicScrape.status, 404, '/.gatehouse/metrics is off on the public port when metrics.listen is set');
  const primaryRss = Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${serve.child.pid}/status`, 'utf8'))![1]);
  t.comment(`cluster primary VmRSS: ${(primaryRss / 1024).toFixed(1)} MB`);
});

t.test('a worker killed with SIGKILL is replaced, and the new one knows the earlier sign-outs', async (t) => {
  const { jar, cookie } = await signedInCookie(t);
  await signOut(`${publicUrl}/agent/logout`, { jar });
  const children = readFileSync(`/proc/${serve.child.pid}/task/${serve.child.pid}/children`, 'utf8').trim().split(/\s+/).map(Number);
  t.equal(children.length, 2, 'two workers');
  const restarted = listening(3);
  process.kill(children[0]!, 'SIGKILL');
  await serve.waitForLog((l) => typeof l.msg === 'string' && l.msg.startsWith(`worker ${children[0]} exited`), 10_000);
  await restarted;
  const now = readFileSync(`/proc/${serve.child.pid}/task/${serve.child.pid}/children`, 'utf8').trim().split(/\s+/).map(Number);
  t.equal(now.length, 2, 'two workers again');
  t.notOk(now.includes(children[0]!), 'the killed one is not among them');
  const after = await replay(cookie);
  t.equal(after.reached, 0, 'the new worker refuses the signed-out cookie too');
  t.equal(after.workers.size, 2, 'both workers answered replays');
});

t.test('failed callbacks are counted across workers: the limit holds on both', async (t) => {
  // limits.failed_callbacks_per_minute: 30 (the default) for the gateway, not 30 per worker
  const workers = new Set<string>();
  let limited = 0;
  for (let i = 0; i < 40; i++) {
    const answer = await hit('/agent/login/authenticate-callback/1?code=x', XHR);
    workers.add(answer.worker);
    if (answer.status === 429) limited++;
  }
  t.equal(workers.size, 2, 'both workers answered');
  t.ok(limited >= 10, `no more than 30 of 40 failed callbacks were let through (${40 - limited})`);
  const last = [await hit('/agent/login/authenticate-callback/1?code=x', XHR), await hit('/agent/login/authenticate-callback/1?code=x', XHR)];
  t.same(
    last.map((a) => a.status),
    [429, 429],
    'both workers refuse now',
  );
  t.equal(new Set(last.map((a) => a.worker)).size, 2, 'the last two were answered by both workers');
});

t.test('SIGHUP reaches every worker; SIGTERM drains every worker and the primary exits 0', async (t) => {
  const reloaded = (): number => serve.lines.filter((l) => l.msg === 'configuration reload accepted').length;
  serve.child.kill('SIGHUP');
  await serve.waitForLog(() => reloaded() >= 2, 15_000);
  t.equal(reloaded(), 2, 'both workers reloaded');
  const workers = readFileSync(`/proc/${serve.child.pid}/task/${serve.child.pid}/children`, 'utf8').trim().split(/\s+/).map(Number);
  serve.child.kill('SIGTERM');
  const exit = await serve.exited;
  t.equal(exit.code, 0, 'the primary exits 0');
  t.equal(serve.lines.filter((l) => l.msg === 'drained; exiting').length, 2, 'both workers drained');
  for (const pid of workers) t.throws(() => process.kill(pid, 0), { code: 'ESRCH' }, `worker ${pid} is gone`);
});
