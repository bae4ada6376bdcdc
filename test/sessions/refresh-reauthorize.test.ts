// Authorization follows the provider (issue 11, finding 4). A real
// oidc-provider, whose accounts the test changes as an administrator would:
// after every refresh the identity headers, the assertion and the allow verdict
// come from the new ID token, and a session is re-authorized every
// session.reauthorize_every (15 min by default) even when its tokens live for
// hours. What counts is what reached the helpdesk (a recording upstream).
import t from 'tap';
import { decodeJwt } from 'jose';
import { fetchWithJar, signIn, type CookieJar } from '../helpers/browserless.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';
import { ALICE, XHR, startCluster, type Cluster } from './fixtures/cluster.js';

let offsetMs = 0;
const now = (): number => Date.now() + offsetMs;
const advance = (ms: number): void => {
  offsetMs += ms;
};

async function start(
  t: Tap.Test,
  options: { accessTokenTtlSeconds?: number; reauthorizeEvery?: string } = {},
): Promise<{ cluster: Cluster; upstream: Upstream }> {
  offsetMs = 0;
  const upstream = await startUpstream();
  const cluster = await startCluster({ store: 'cookie', instances: 1, upstreamUrl: upstream.url, now, ...options });
  t.teardown(async () => {
    await cluster.close();
    await upstream.close();
  });
  cluster.use(0);
  return { cluster, upstream };
}

const alice = (cluster: Cluster) => cluster.provider.accounts.find((a) => a.username === 'alice')!;
const whoami = (cluster: Cluster, jar: CookieJar) => fetchWithJar(`${cluster.publicUrl}/agent/api/whoami`, { jar, headers: XHR });
/** the identity of every request the helpdesk received from `from` on */
const seenSince = (upstream: Upstream, from: number) =>
  upstream.requests.slice(from).map((r) => ({
    subject: r.headers['x-auth-subject'],
    groups: r.headers['x-auth-groups'],
    name: r.headers['x-auth-name'],
    email: r.headers['x-auth-email'],
    assertion: r.headers['x-auth-assertion'],
  }));

t.test('removed from helpdesk-agents at the provider: the next refresh ends the session, and the helpdesk never sees the agent again', async (t) => {
  const { cluster, upstream } = await start(t, { accessTokenTtlSeconds: 60 });
  const flow = await signIn(`${cluster.publicUrl}/agent/`, ALICE);
  t.equal(flow.final.status, 200, 'alice signed in as an agent');
  const copy = flow.jar.get(cluster.publicUrl, 'gatehouse-agent')!;
  t.equal((await whoami(cluster, flow.jar)).status, 200);
  t.equal(seenSince(upstream, 0).at(-1)?.groups, 'helpdesk-agents');

  // an administrator removes alice from the group at the provider
  alice(cluster).groups = [];
  const removedAt = upstream.requests.length;
  advance(46_000); // the tokens live 60 s: refresh is due after 45 s
  const refused = await whoami(cluster, flow.jar);
  t.equal(refused.status, 401, 'the refresh brought a token without the group: signed out');
  t.equal(JSON.parse(refused.body).error, 'GH_NOT_SIGNED_IN');
  t.match(String(refused.headers['set-cookie']), /gatehouse-agent=;/, 'the cookie is cleared');
  t.equal(cluster.refreshGrants.ok, 1, 'one refresh at the provider');
  const audit = cluster.logs.filter((l) => l.audit === 'session-ended');
  t.equal(audit.length, 1, 'one audit line');
  t.match(audit[0], { reason: 'GH_ALLOW_CLAIM', sub: 'user-alice', realm: 'agent' });

  // a copy of the old cookie (another tab, a stolen cookie) is refused too, without asking the provider again
  const again = await fetchWithJar(`${cluster.publicUrl}/agent/api/whoami`, { headers: { ...XHR, cookie: `gatehouse-agent=${copy}` } });
  t.equal(again.status, 401, 'the old cookie is revoked');
  t.equal(cluster.refreshGrants.ok, 1);
  t.same(seenSince(upstream, removedAt), [], 'the helpdesk received nothing as alice after she was removed');
  const session = (await cluster.gateways[0]!.gw.store.load(cluster.gateways[0]!.gw.runtime.realms.get('agent')!, copy))!;
  for (const secret of [session.refreshToken!, session.idToken!, copy]) t.notOk(cluster.logText().includes(secret), 'no token or cookie in the logs');
});

t.test('name and email changed at the provider: the refreshed session sends the new identity, on every copy of the cookie', async (t) => {
  const { cluster, upstream } = await start(t, { accessTokenTtlSeconds: 60 });
  const flow = await signIn(`${cluster.publicUrl}/agent/`, ALICE);
  const copy = flow.jar.get(cluster.publicUrl, 'gatehouse-agent')!;
  t.equal((await whoami(cluster, flow.jar)).status, 200);
  t.match(seenSince(upstream, 0).at(-1), { name: 'Alice Agent', email: 'alice@example.com' });

  Object.assign(alice(cluster), { name: 'Alice Renamed', email: 'alice.renamed@example.com' });
  const changedAt = upstream.requests.length;
  advance(46_000);
  t.equal((await whoami(cluster, flow.jar)).status, 200, 'still an agent');
  t.equal(cluster.refreshGrants.ok, 1);
  // the stale cookie value is answered with the refreshed session
  t.equal((await fetchWithJar(`${cluster.publicUrl}/agent/api/whoami`, { headers: { ...XHR, cookie: `gatehouse-agent=${copy}` } })).status, 200);
  const seen = seenSince(upstream, changedAt);
  t.equal(seen.length, 2);
  for (const identity of seen) {
    t.match(identity, { subject: 'user-alice', name: 'Alice Renamed', email: 'alice.renamed@example.com', groups: 'helpdesk-agents' }, 'new identity headers');
    t.match(decodeJwt(String(identity.assertion)), { sub: 'user-alice', name: 'Alice Renamed', email: 'alice.renamed@example.com' }, 'and a new assertion');
  }
});

t.test('tokens that live for an hour: the session is re-authorized every 15 minutes (the default), one provider call each', async (t) => {
  const { cluster, upstream } = await start(t); // the demo provider's access tokens live 3600 s
  const flow = await signIn(`${cluster.publicUrl}/agent/`, ALICE);
  t.equal((await whoami(cluster, flow.jar)).status, 200);

  advance(14 * 60_000);
  t.equal((await whoami(cluster, flow.jar)).status, 200);
  t.equal(cluster.refreshGrants.ok, 0, 'not due after 14 min');
  advance(61_000);
  t.equal((await whoami(cluster, flow.jar)).status, 200, 'still allowed: re-authorized');
  t.equal(cluster.refreshGrants.ok, 1, 'after 15 min: one refresh-token grant');
  for (let i = 0; i < 5; i++) t.equal((await whoami(cluster, flow.jar)).status, 200);
  t.equal(cluster.refreshGrants.ok, 1, 'and not again until the next interval');

  alice(cluster).groups = ['customers'];
  const removedAt = upstream.requests.length;
  advance(14 * 60_000);
  t.equal((await whoami(cluster, flow.jar)).status, 200, 'within the interval the verdict stands');
  t.equal(cluster.refreshGrants.ok, 1);
  advance(61_000);
  const refused = await whoami(cluster, flow.jar);
  t.equal(refused.status, 401, 'the next re-authorization ends the session');
  t.equal(cluster.refreshGrants.ok, 2);
  t.match(
    cluster.logs.find((l) => l.audit === 'session-ended'),
    { reason: 'GH_ALLOW_CLAIM' },
  );
  t.equal(seenSince(upstream, removedAt).length, 1, 'the helpdesk saw her only inside the interval');
});

t.test('session.reauthorize_every is honoured', async (t) => {
  const { cluster } = await start(t, { reauthorizeEvery: '2m' });
  const flow = await signIn(`${cluster.publicUrl}/agent/`, ALICE);
  alice(cluster).groups = [];
  advance(119_000);
  t.equal((await whoami(cluster, flow.jar)).status, 200);
  advance(2_000);
  t.equal((await whoami(cluster, flow.jar)).status, 401, 'refused after 2 min');
  t.equal(cluster.refreshGrants.ok, 1);
});

t.test('two instances with Redis: once one has re-authorized, neither serves the old verdict (both stores)', async (t) => {
  const { startRedis } = await import('../helpers/redis.js');
  const redis = await startRedis();
  t.teardown(() => redis.close());
  for (const store of ['redis', 'cookie'] as const) {
    offsetMs = 0;
    const upstream = await startUpstream();
    const cluster = await startCluster({ store, redis, instances: 2, upstreamUrl: upstream.url, now, rotateRefreshTokens: true });
    t.teardown(async () => {
      await cluster.close();
      await upstream.close();
    });
    cluster.use(0);
    const flow = await signIn(`${cluster.publicUrl}/agent/`, ALICE);
    const cookie = flow.jar.get(cluster.publicUrl, 'gatehouse-agent')!;
    const on = (index: number) =>
      fetchWithJar(`${cluster.gateways[index]!.url}/agent/api/whoami`, {
        headers: { ...XHR, host: new URL(cluster.publicUrl).host, cookie: `gatehouse-agent=${cookie}` },
      });
    // both instances have the session cached with its agent verdict
    t.equal((await on(0)).status, 200);
    t.equal((await on(1)).status, 200);
    alice(cluster).groups = [];
    const removedAt = upstream.requests.length;
    advance(15 * 60_000 + 1000);
    t.equal((await on(0)).status, 401, `${store}: instance A re-authorizes and ends the session`);
    t.equal((await on(1)).status, 401, `${store}: instance B, its cache warm, does not serve the old verdict`);
    t.equal(cluster.refreshGrants.ok, 1, `${store}: one grant for both`);
    t.equal(cluster.refreshGrants.failed, 0);
    t.equal(upstream.requests.length, removedAt, `${store}: the helpdesk saw nothing more`);
  }
});
