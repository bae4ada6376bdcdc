// A slow helpdesk under load: more requests than pool connections, each slower
// than upstream.timeout. The deadline runs from the request's arrival, the wait
// for a connection included: every request gets its 504 within the timeout
// (plus slack for a busy machine), none waits for a connection to free first.
// Readiness meanwhile answers at once from a connection of its own: the pool
// being saturated and the helpdesk being slow are not "unready" (every
// instance would be alike); the helpdesk refusing connections is.
// upstream.timeout 2s and max_connections 4 are ordinary config values: what
// is tested is that the bound holds for every queued request, not its size.
import t from 'tap';
import { request } from 'undici';
import { BOB, startTestStack } from '../helpers/stack.js';

const TIMEOUT_MS = 2000;
const CONNECTIONS = 4;
const SLACK_MS = 1000;

t.test('queued requests get their 504 within upstream.timeout of arrival; readyz answers meanwhile', async (t) => {
  const stack = await startTestStack({
    editYaml: (y) => y.replace('  timeout: 10s\n', `  timeout: ${TIMEOUT_MS / 1000}s\n  max_connections: ${CONNECTIONS}\n`),
  });
  t.teardown(() => stack.close());
  const { jar } = await stack.signIn('/', BOB);
  const cookie = jar.cookieHeader(`${stack.publicUrl}/`)!;
  const before = stack.upstream.requests.length;

  const count = CONNECTIONS * 6;
  const timed = async (i: number) => {
    const started = performance.now();
    const res = await request(`${stack.publicUrl}/slow?ms=30000&n=${i}`, { headers: { cookie, accept: 'application/json' } });
    const body = await res.body.text();
    return { status: res.statusCode, error: (JSON.parse(body) as { error?: string }).error, ms: performance.now() - started };
  };
  const all = Promise.all(Array.from({ length: count }, (_, i) => timed(i)));

  // while all of them wait: readiness answers from its own connection, at once
  const readyStarted = performance.now();
  const ready = await request(`${stack.publicUrl}/.gatehouse/readyz`);
  const readyBody = (await ready.body.json()) as { upstream: boolean };
  const readyMs = performance.now() - readyStarted;
  t.equal(ready.statusCode, 200, 'a saturated pool and a slow helpdesk do not make the instance unready');
  t.equal(readyBody.upstream, true);
  t.ok(readyMs < 1000, `readyz answered in ${Math.round(readyMs)} ms, not behind the queue`);

  const answers = await all;
  t.same([...new Set(answers.map((a) => `${a.status} ${a.error}`))], ['504 GH_UPSTREAM_TIMEOUT'], `all ${count} requests got 504`);
  const slowest = Math.max(...answers.map((a) => a.ms));
  const fastest = Math.min(...answers.map((a) => a.ms));
  t.ok(fastest >= TIMEOUT_MS - 50, `none before the timeout (fastest ${Math.round(fastest)} ms)`);
  t.ok(slowest < TIMEOUT_MS + SLACK_MS, `every one within timeout + ${SLACK_MS} ms of its arrival (slowest ${Math.round(slowest)} ms)`);
  const reached = stack.upstream.requests.length - before;
  // a request is sent on only while its deadline has not passed (those that arrived a little later than
  // the first ones may still be): what timed out waiting for a connection is never sent after its 504
  t.ok(reached < count, `requests that timed out in the queue were not sent on afterwards (${reached} of ${count} reached the helpdesk)`);

  // the pool recovers: a fast request is served
  const fine = await request(`${stack.publicUrl}/tickets`, { headers: { cookie, accept: 'application/json' } });
  await fine.body.dump();
  t.equal(fine.statusCode, 200);

  // the helpdesk refusing connections is unready, and said at once
  await stack.upstream.close();
  const downStarted = performance.now();
  const down = await request(`${stack.publicUrl}/.gatehouse/readyz`);
  t.equal(down.statusCode, 503);
  t.match(await down.body.json(), { upstream: false });
  t.ok(performance.now() - downStarted < 2500, 'within the readiness limit');
});
