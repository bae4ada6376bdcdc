// `gatehouse serve` with workers: 2 and no Redis: both workers get requests of
// one session when its tokens are due; the refresh lock and its outcome live in
// the cluster primary, so the provider sees one refresh_token grant (its
// refresh tokens rotate: a second grant with the old token would fail and sign
// the person out), and the worker that did not refresh takes the outcome.
import t from 'tap';
import { request } from 'node:http';
import { demoClients, demoYaml } from '../../src/demo/stack.js';
import { claimPort } from '../helpers/ports.js';
import { startDemoProvider, DEMO_ACCOUNTS } from '../../src/demo/provider.js';
import { startUpstream } from '../helpers/upstream.js';
import { spawnServe, tempDir, writeFile } from '../helpers/ops.js';
import { signIn } from '../helpers/browserless.js';

const publicUrl = `http://127.0.0.1:${claimPort().port}`;
const provider = await startDemoProvider({
  port: 0,
  refreshTokens: true,
  rotateRefreshTokens: true,
  accessTokenTtlSeconds: 2,
  clients: demoClients(publicUrl),
  accounts: DEMO_ACCOUNTS,
});
t.teardown(() => provider.close());
const grants = { ok: 0, failed: 0 };
provider.provider.on('grant.success', (ctx: { oidc: { params: { grant_type?: string } } }) => {
  if (ctx.oidc.params.grant_type === 'refresh_token') grants.ok++;
});
provider.provider.on('grant.error', (ctx: { oidc: { params?: { grant_type?: string } } }) => {
  if (ctx.oidc.params?.grant_type === 'refresh_token') grants.failed++;
});
const upstream = await startUpstream();
t.teardown(() => upstream.close());
const yaml = `${demoYaml(publicUrl, provider.issuer, upstream.url)}workers: 2\n`;
const serve = spawnServe(writeFile(tempDir(t), 'gateway.yaml', yaml), { GATEHOUSE_DEMO_SECRET: 'a-demo-secret-of-at-least-32-characters-0123' });
t.teardown(() => serve.kill());
await serve.waitForLog((l) => l.msg === 'gatehouse listening' && serve.lines.filter((x) => x.msg === 'gatehouse listening').length >= 2, 30_000);

let hits = 0;
/** A request of the session on a connection of its own; the worker that forwarded it, from the request id the helpdesk got. */
function hit(cookie: string): Promise<{ status: number; worker: string | undefined }> {
  const id = String(++hits);
  return new Promise((resolve, reject) => {
    const req = request(
      `${publicUrl}/agent/api/r${id}`,
      { agent: false, headers: { connection: 'close', accept: 'application/json', cookie, 'x-test-id': id } },
      (res) => {
        res.resume();
        res.on('end', () => {
          const seen = upstream.requests.find((r) => r.headers['x-test-id'] === id);
          resolve({ status: res.statusCode ?? 0, worker: seen ? String(seen.headers['x-request-id']).split('-')[0] : undefined });
        });
      },
    );
    req.on('error', reject);
    req.end();
  });
}

t.test('both workers meet a session due for refresh: one grant, nobody signed out', async (t) => {
  const flow = await signIn(`${publicUrl}/agent/tickets`, { username: 'alice', password: 'alice-demo' });
  t.equal(flow.final.status, 200, 'signed in');
  const signedInAt = Date.now();
  const cookie = flow.jar.cookieHeader(`${publicUrl}/agent/tickets`);
  const warm = await Promise.all(Array.from({ length: 4 }, () => hit(cookie)));
  t.same(
    warm.map((w) => w.status),
    [200, 200, 200, 200],
  );
  t.equal(grants.ok, 0, 'no refresh yet');
  // the tokens live 2 s; a refresh is due in their last quarter, 1.5 s after they were obtained (before signIn returned)
  await new Promise((r) => setTimeout(r, signedInAt + 1600 - Date.now()));
  const race = await Promise.all(Array.from({ length: 8 }, () => hit(cookie)));
  const after = [];
  for (let i = 0; i < 6; i++) after.push(await hit(cookie)); // the old cookie still: each worker must know the outcome
  const all = [...race, ...after];
  t.same(new Set(all.map((a) => a.status)), new Set([200]), 'every request on both workers was served');
  t.equal(new Set(all.map((a) => a.worker)).size, 2, 'both workers served them');
  t.equal(grants.ok, 1, 'one refresh for both workers');
  t.equal(grants.failed, 0, 'the rotated refresh token was never presented twice');
  t.notOk(
    serve.lines.some((l) => l.audit === 'session-ended'),
    'nobody was signed out',
  );
});
