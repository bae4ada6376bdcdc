// Two instances refresh the same session at the same moment: the Redis lock
// lets one redeem the (rotating) refresh token, the other takes its outcome.
// The provider must see exactly one refresh_token grant per round, and never a
// spent token (which would make it revoke the grant and sign the person out).
import t from 'tap';
import { fetchWithJar, signIn } from '../helpers/browserless.js';
import { startRedis } from '../helpers/redis.js';
import { refreshDueAt } from '../../src/session/refresh.js';
import type { SessionData } from '../../src/session/session.js';
import { joinChunks } from '../../src/session/codec.js';
import { testClock, type TestClock } from '../helpers/stack.js';
import { ALICE, XHR, startCluster, type Cluster } from './fixtures/cluster.js';

const redis = await startRedis();
t.teardown(() => redis.close());

/** The session behind a cookie, as instance 0 loads it from its store. */
async function sessionOf(cluster: Cluster, cookie: string): Promise<SessionData> {
  const gw = cluster.gateways[0]!.gw;
  const realm = gw.runtime.realms.get('agent')!;
  return (await gw.store.load(realm, joinChunks({ 'gatehouse-agent': cookie }, 'gatehouse-agent')!))!;
}

/** Both instances' clock moved to just past the moment the session's tokens are due for a refresh (never slept on). */
function advanceUntilDue(clock: TestClock, session: SessionData): void {
  clock.advance(Math.max(0, refreshDueAt(session) - clock.now() + 50));
}

/**
 * Requests straight to one instance (not through the balancer), as two load-balanced tabs would land:
 * with the browser's host, as a load balancer keeps it (another host name would be refused with 421).
 */
const on = (cluster: Cluster, index: number, cookie: string) =>
  fetchWithJar(`${cluster.gateways[index]!.url}/agent/api/whoami`, {
    headers: { ...XHR, host: new URL(cluster.publicUrl).host, cookie: `gatehouse-agent=${cookie}` },
  });

for (const store of ['redis', 'cookie'] as const) {
  t.test(`store: ${store} with Redis — A and B refresh at the same moment, the token is spent once`, async (t) => {
    const clock = testClock();
    const cluster = await startCluster({ store, redis, instances: 2, accessTokenTtlSeconds: 2, rotateRefreshTokens: true, now: clock.now });
    t.teardown(() => cluster.close());
    cluster.use(0);
    const flow = await signIn(`${cluster.publicUrl}/agent/`, ALICE);
    const cookie = flow.jar.get(cluster.publicUrl, 'gatehouse-agent')!;
    const before = await sessionOf(cluster, cookie);
    // both instances have the session cached before the race
    t.same([(await on(cluster, 0, cookie)).status, (await on(cluster, 1, cookie)).status], [200, 200]);

    advanceUntilDue(clock, before);
    const race = await Promise.all([0, 1, 0, 1, 0, 1].map((i) => on(cluster, i, cookie)));
    t.same(
      race.map((r) => r.status),
      [200, 200, 200, 200, 200, 200],
      'every request on both instances is served',
    );
    t.equal(cluster.refreshGrants.ok, 1, 'one refresh for both instances');
    t.equal(cluster.refreshGrants.failed, 0, 'the rotated token was never presented twice');
    const refreshedOn = new Set(cluster.logs.filter((l) => l.audit === 'session-ended').map((l) => l.instance));
    t.equal(refreshedOn.size, 0, 'nobody was signed out');

    // each instance goes on with the refreshed session (store: cookie hands out a new cookie, store: redis keeps the ticket)
    const current = store === 'redis' ? cookie : /gatehouse-agent=([^;]+)/.exec(String(race[0]!.headers['set-cookie']))![1]!;
    if (store === 'redis')
      t.notOk(
        race.some((r) => String(r.headers['set-cookie'] ?? '').includes('gatehouse-agent=')),
        'the ticket in the cookie does not change',
      );
    const after = await sessionOf(cluster, current);
    t.not(after.refreshToken, before.refreshToken, 'rotated');
    t.same([(await on(cluster, 1, current)).status, (await on(cluster, 0, current)).status], [200, 200]);
    t.equal(cluster.refreshGrants.ok, 1, 'and nobody refreshes again before it is due');

    // the next round, started on B first this time
    advanceUntilDue(clock, after);
    const second = await Promise.all([1, 0, 1, 0].map((i) => on(cluster, i, current)));
    t.same(
      second.map((r) => r.status),
      [200, 200, 200, 200],
    );
    t.equal(cluster.refreshGrants.ok, 2, 'one more refresh');
    t.equal(cluster.refreshGrants.failed, 0);
  });
}
