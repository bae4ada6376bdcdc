// Two gateway processes with one config and one Redis behave as one: sign in
// through A, continue on B; a sign-out on B ends the session on A at once; a
// back-channel logout the provider sends to B ends the session on A at once.
import t from 'tap';
import { fetchWithJar, signIn, signOut, type CookieJar } from '../helpers/browserless.js';
import { startRedis } from '../helpers/redis.js';
import { ALICE, XHR, eventually, startCluster, type Cluster } from './fixtures/cluster.js';

const redis = await startRedis();
t.teardown(() => redis.close());

async function whoami(cluster: Cluster, jar: CookieJar, extraCookie?: string): Promise<{ status: number; subject?: string }> {
  const res = await fetchWithJar(`${cluster.publicUrl}/agent/api/whoami`, { jar, headers: { ...XHR, ...(extraCookie ? { cookie: extraCookie } : {}) } });
  return { status: res.status, ...(res.status === 200 ? { subject: (JSON.parse(res.body) as { subject: string }).subject } : {}) };
}

t.test('store: redis — sign in on A, continue on B, sign out on B ends it on A', async (t) => {
  const cluster = await startCluster({ store: 'redis', redis });
  t.teardown(() => cluster.close());

  cluster.use(0);
  const flow = await signIn(`${cluster.publicUrl}/agent/tickets/7`, ALICE);
  t.equal(flow.final.status, 200, 'signed in through A');
  t.match(flow.final.body, /user-alice/);
  const cookie = flow.jar.get(cluster.publicUrl, 'gatehouse-agent');
  t.match(cookie, /^r1\./, 'the cookie is a ticket');
  t.ok(
    cluster.logs.some((l) => l.audit === 'sign-in' && l.instance === 0),
    'A did the sign-in',
  );

  cluster.use(1);
  t.same(await whoami(cluster, flow.jar), { status: 200, subject: 'user-alice' }, 'B knows the session');
  cluster.use(0);
  t.same(await whoami(cluster, flow.jar), { status: 200, subject: 'user-alice' }, 'A still does (and has it cached)');

  // a copy of the cookie, as a thief would keep it
  const copied = `gatehouse-agent=${cookie}`;
  cluster.use(1);
  const out = await signOut(`${cluster.publicUrl}/agent/logout`, { jar: flow.jar });
  t.ok(
    cluster.logs.some((l) => l.audit === 'sign-out' && l.instance === 1),
    'B did the sign-out',
  );
  t.equal(flow.jar.get(cluster.publicUrl, 'gatehouse-agent'), undefined, 'the browser lost its cookie');
  t.ok(out.final.status < 500);

  cluster.use(0);
  const copyOnA = await fetchWithJar(`${cluster.publicUrl}/agent/api/whoami`, { headers: { ...XHR, cookie: copied } });
  t.equal(copyOnA.status, 401, 'the copied cookie no longer works on A, at once');
  t.equal(JSON.parse(copyOnA.body).error, 'GH_NOT_SIGNED_IN');
  t.notOk(
    cluster.logs.some((l) => String(l.msg).startsWith('redis connection lost')),
    'no connection was lost on the way',
  );
});

t.test('store: redis — a back-channel logout received by B ends the session on A at once', async (t) => {
  const cluster = await startCluster({ store: 'redis', redis });
  t.teardown(() => cluster.close());
  const backchannel: string[] = [];
  cluster.provider.provider.on('backchannel.success', () => backchannel.push('ok'));
  cluster.provider.provider.on('backchannel.error', (_ctx: unknown, error: Error) => backchannel.push(`error: ${error.message}`));

  cluster.use(0);
  const flow = await signIn(`${cluster.publicUrl}/agent/`, ALICE);
  t.equal(flow.final.status, 200);
  t.same(await whoami(cluster, flow.jar), { status: 200, subject: 'user-alice' }, 'A serves the session (cached from now on)');

  // the person signs out at the provider; the provider's back-channel POST reaches B
  cluster.use(1);
  const endSession = cluster.gateways[0]!.gw.runtime.realms.get('agent')!.provider.metadata!.end_session_endpoint!;
  await signOut(endSession, { jar: flow.jar, method: 'GET' });
  t.same(backchannel, ['ok'], 'the provider delivered the logout token and got 200');
  const received = cluster.logs.find((l) => l.audit === 'backchannel-logout');
  t.equal(received?.instance, 1, 'B received it');
  t.equal(received?.by, 'provider-session', 'matched by the provider session (sid)');

  cluster.use(0);
  t.ok(await eventually(async () => (await whoami(cluster, flow.jar)).status === 401, 500), 'A refuses the session within 500 ms');
  cluster.use(1);
  t.equal((await whoami(cluster, flow.jar)).status, 401, 'and so does B');
});

t.test('store: cookie with redis_url — revocations are shared and survive a restart', async (t) => {
  const cluster = await startCluster({ store: 'cookie', redis });
  t.teardown(() => cluster.close());
  cluster.use(0);
  const flow = await signIn(`${cluster.publicUrl}/agent/`, ALICE);
  const cookie = flow.jar.get(cluster.publicUrl, 'gatehouse-agent');
  t.match(cookie, /^g1\./, 'the session is in the cookie');
  cluster.use(1);
  t.same(await whoami(cluster, flow.jar), { status: 200, subject: 'user-alice' }, 'B opens the cookie too');

  const endSession = cluster.gateways[0]!.gw.runtime.realms.get('agent')!.provider.metadata!.end_session_endpoint!;
  const copied = `gatehouse-agent=${cookie}`;
  await signOut(endSession, { jar: flow.jar, method: 'GET' });
  t.equal(cluster.logs.find((l) => l.audit === 'backchannel-logout')?.instance, 1, 'B received the back-channel logout');
  cluster.use(0);
  t.ok(
    await eventually(async () => (await fetchWithJar(`${cluster.publicUrl}/agent/api/whoami`, { headers: { ...XHR, cookie: copied } })).status === 401, 500),
    'A refuses the cookie at once',
  );

  // both instances restart: the revocation is loaded from Redis, the cookie stays dead
  await cluster.stopInstance(0);
  await cluster.stopInstance(1);
  await cluster.startInstance(0);
  cluster.use(0);
  const afterRestart = await fetchWithJar(`${cluster.publicUrl}/agent/api/whoami`, { headers: { ...XHR, cookie: copied } });
  t.equal(afterRestart.status, 401, 'still refused after a restart');
});

t.test('store: cookie without Redis — revocations are per instance and in memory (the documented trade-off)', async (t) => {
  const cluster = await startCluster({ store: 'cookie' });
  t.teardown(() => cluster.close());
  cluster.use(0);
  const flow = await signIn(`${cluster.publicUrl}/agent/`, ALICE);
  const copied = `gatehouse-agent=${flow.jar.get(cluster.publicUrl, 'gatehouse-agent')}`;
  cluster.use(1);
  await signOut(`${cluster.publicUrl}/agent/logout`, { jar: flow.jar });
  const on = async (i: number): Promise<number> => {
    cluster.use(i);
    return (await fetchWithJar(`${cluster.publicUrl}/agent/api/whoami`, { headers: { ...XHR, cookie: copied } })).status;
  };
  t.equal(await on(1), 401, 'the instance that signed out refuses the copied cookie');
  t.equal(await on(0), 200, 'the other instance does not know (use redis_url to share revocations)');
  await cluster.stopInstance(1);
  await cluster.startInstance(1);
  t.equal(await on(1), 200, 'and a restart forgets it');
});
