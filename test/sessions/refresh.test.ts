// Refresh against a real oidc-provider that rotates refresh tokens (each one
// works once; reusing a spent one makes the provider revoke the whole grant —
// the race that signs people out of other gateways). Access tokens live 2 s, so
// a refresh is due after 1.5 s: the gateway's clock is moved there, not slept on.
import t from 'tap';
import { fetchWithJar, signIn } from '../helpers/browserless.js';
import { open } from '../../src/session/codec.js';
import { refreshDueAt } from '../../src/session/refresh.js';
import type { SessionData } from '../../src/session/session.js';
import { testClock, type TestClock } from '../helpers/stack.js';
import { ALICE, XHR, startCluster, type Cluster } from './fixtures/cluster.js';

function sessionIn(cluster: Cluster, cookieValue: string): Promise<SessionData | null> {
  const realm = cluster.gateways[0]!.gw.runtime.realms.get('agent')!;
  return open<SessionData>(cookieValue, realm.sealKeys);
}

/** The gateway's clock moved to just past the moment the session's tokens are due for a refresh. */
function advanceUntilDue(clock: TestClock, session: SessionData): void {
  clock.advance(Math.max(0, refreshDueAt(session) - clock.now() + 50));
}

const whoami = (cluster: Cluster, cookie: string) =>
  fetchWithJar(`${cluster.publicUrl}/agent/api/whoami`, { headers: { ...XHR, cookie: `gatehouse-agent=${cookie}` } });

function newCookieOf(response: { headers: Record<string, string | string[]> }): string | undefined {
  const lines = ([] as string[]).concat(response.headers['set-cookie'] ?? []);
  return lines.map((l) => /^gatehouse-agent=([^;]+)/.exec(l)?.[1]).find((v) => v !== undefined && v !== '');
}

t.test('refresh before expiry: concurrent requests and a stale cookie spend the rotated token once', async (t) => {
  const clock = testClock();
  const cluster = await startCluster({ store: 'cookie', instances: 1, accessTokenTtlSeconds: 2, rotateRefreshTokens: true, now: clock.now });
  t.teardown(() => cluster.close());
  cluster.use(0);
  const flow = await signIn(`${cluster.publicUrl}/agent/`, ALICE);
  const first = flow.jar.get(cluster.publicUrl, 'gatehouse-agent')!;
  const signedIn = (await sessionIn(cluster, first))!;
  t.ok(signedIn.refreshToken, 'the session holds a refresh token');
  t.ok(signedIn.tokensExpireAt! - signedIn.createdAt <= 2000, 'tokens for 2 s');

  const early = await whoami(cluster, first);
  t.equal(early.status, 200);
  t.equal(cluster.refreshGrants.ok, 0, 'not due yet: no refresh');

  advanceUntilDue(clock, signedIn);
  // a page that fires eight requests at once, all with the old cookie
  const burst = await Promise.all(Array.from({ length: 8 }, () => whoami(cluster, first)));
  t.same(
    burst.map((r) => r.status),
    Array(8).fill(200),
    'every request of the burst is served',
  );
  t.equal(cluster.refreshGrants.ok, 1, 'one refresh for the whole burst');
  t.equal(cluster.refreshGrants.failed, 0, 'no spent token was presented again');
  const next = newCookieOf(burst[0]!);
  t.ok(next, 'the refreshed session comes back as a new cookie');
  const refreshed = (await sessionIn(cluster, next!))!;
  t.not(refreshed.refreshToken, signedIn.refreshToken, 'the provider rotated the refresh token');
  t.ok(refreshed.tokensExpireAt! > signedIn.tokensExpireAt!, 'the tokens live longer');
  t.equal(refreshed.id, signedIn.id, 'the same session');
  t.equal(refreshed.createdAt, signedIn.createdAt, 'lifetime still counts from the sign-in');

  // another tab still sends the old cookie (its request was in flight): it gets the new tokens, the provider is not asked
  const stale = await whoami(cluster, first);
  t.equal(stale.status, 200, 'the stale cookie still works');
  t.equal(cluster.refreshGrants.ok, 1, 'without a second refresh');
  t.equal(cluster.refreshGrants.failed, 0);
  t.ok(newCookieOf(stale), 'and is handed the refreshed session');

  // the new cookie keeps working; the next refresh uses the new token
  advanceUntilDue(clock, refreshed);
  const later = await whoami(cluster, next!);
  t.equal(later.status, 200);
  t.equal(cluster.refreshGrants.ok, 2, 'the next refresh, with the rotated token');
  t.equal(cluster.refreshGrants.failed, 0);

  for (const secret of [signedIn.refreshToken!, refreshed.refreshToken!, signedIn.idToken!]) t.notOk(cluster.logText().includes(secret), 'tokens never logged');
});

t.test('invalid_grant ends the session, on every copy of the cookie', async (t) => {
  const clock = testClock();
  const cluster = await startCluster({ store: 'cookie', instances: 1, accessTokenTtlSeconds: 2, now: clock.now });
  t.teardown(() => cluster.close());
  cluster.use(0);
  const flow = await signIn(`${cluster.publicUrl}/agent/`, ALICE);
  const cookie = flow.jar.get(cluster.publicUrl, 'gatehouse-agent')!;
  const session = (await sessionIn(cluster, cookie))!;

  // an administrator revokes the grant at the provider (RFC 7009)
  const revoked = await fetchWithJar(`${cluster.provider.issuer}/token/revocation`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: `Basic ${Buffer.from('demo-agent:demo-agent-secret-0123456789abcdef').toString('base64')}`,
    },
    body: new URLSearchParams({ token: session.refreshToken!, token_type_hint: 'refresh_token' }).toString(),
  });
  t.equal(revoked.status, 200, 'the provider revoked the refresh token');
  t.equal((await whoami(cluster, cookie)).status, 200, 'until a refresh is due nothing changes');

  advanceUntilDue(clock, session);
  const ended = await whoami(cluster, cookie);
  t.equal(ended.status, 401, 'the refresh answered invalid_grant: signed out');
  t.equal(JSON.parse(ended.body).error, 'GH_NOT_SIGNED_IN');
  t.match(String(ended.headers['set-cookie']), /gatehouse-agent=;/, 'the cookie is cleared');
  const audit = cluster.logs.find((l) => l.audit === 'session-ended');
  t.equal(audit?.reason, 'invalid_grant');
  t.equal(cluster.refreshGrants.failed, 1);
  t.equal((await whoami(cluster, cookie)).status, 401, 'a copy of the cookie is refused too (revoked)');
  t.equal(cluster.refreshGrants.failed, 1, 'without asking the provider again');
});

t.test('refresh: false — no refresh token is kept, the session lives by lifetime and idle_timeout alone', async (t) => {
  const cluster = await startCluster({ store: 'cookie', instances: 1, accessTokenTtlSeconds: 2, refresh: false });
  t.teardown(() => cluster.close());
  cluster.use(0);
  const flow = await signIn(`${cluster.publicUrl}/agent/`, ALICE);
  const cookie = flow.jar.get(cluster.publicUrl, 'gatehouse-agent')!;
  const session = (await sessionIn(cluster, cookie))!;
  t.equal(session.refreshToken, undefined, 'no refresh token in the session');
  t.equal((await whoami(cluster, cookie)).status, 200);
  t.equal(cluster.refreshGrants.ok + cluster.refreshGrants.failed, 0);
});
