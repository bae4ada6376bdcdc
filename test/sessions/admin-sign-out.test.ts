// "Sign out everywhere" for an operator: POST /.gatehouse/admin/sign-out with
// the admin credential ends every session of a subject on every instance; the
// API refuses anyone without the credential and does not exist without one.
import t from 'tap';
import { fetchWithJar, signIn, type CookieJar } from '../helpers/browserless.js';
import { startRedis } from '../helpers/redis.js';
import { ADMIN_TOKEN, ALICE, BOB, XHR, startCluster, type Cluster } from './fixtures/cluster.js';

const redis = await startRedis();
t.teardown(() => redis.close());

function admin(cluster: Cluster, body: unknown, authorization?: string) {
  return fetchWithJar(`${cluster.publicUrl}/.gatehouse/admin/sign-out`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(authorization === undefined ? {} : { authorization }) },
    body: JSON.stringify(body),
  });
}

const status = async (cluster: Cluster, jar: CookieJar, path: string): Promise<number> =>
  (await fetchWithJar(`${cluster.publicUrl}${path}`, { jar, headers: XHR })).status;

t.test('sign out everywhere: every session of the subject, on every instance, at once', async (t) => {
  const cluster = await startCluster({ store: 'redis', redis, instances: 2 });
  t.teardown(() => cluster.close());
  cluster.use(0);
  const laptop = (await signIn(`${cluster.publicUrl}/agent/`, ALICE)).jar;
  const phone = (await signIn(`${cluster.publicUrl}/agent/`, ALICE)).jar;
  await signIn(`${cluster.publicUrl}/`, ALICE, { jar: phone }); // the user realm (through its sign-in button)
  const bob = (await signIn(`${cluster.publicUrl}/`, BOB)).jar;
  t.same(
    [await status(cluster, laptop, '/agent/api/whoami'), await status(cluster, phone, '/agent/api/whoami'), await status(cluster, phone, '/api/whoami')],
    [200, 200, 200],
    'alice: two agent sessions and a user session',
  );
  t.equal(await status(cluster, bob, '/api/whoami'), 200, 'bob: a user session');

  cluster.use(1);
  const refused: Array<[string, string | undefined]> = [
    ['no credential', undefined],
    ['a wrong token', `Bearer ${ADMIN_TOKEN.slice(0, -1)}x`],
    ['a shorter token', `Bearer ${ADMIN_TOKEN.slice(0, 10)}`],
    ['the token with another scheme', `Basic ${ADMIN_TOKEN}`],
    ['an empty bearer', 'Bearer '],
  ];
  for (const [what, authorization] of refused) {
    const res = await admin(cluster, { sub: 'user-alice' }, authorization);
    t.equal(res.status, 401, `${what}: 401`);
    t.equal(JSON.parse(res.body).error, 'GH_ADMIN_UNAUTHORIZED', `${what}: GH_ADMIN_UNAUTHORIZED`);
    t.match(res.headers['www-authenticate'], /^Bearer/);
  }
  cluster.use(0);
  t.equal(await status(cluster, laptop, '/agent/api/whoami'), 200, 'nothing happened');

  cluster.use(1);
  t.equal((await admin(cluster, {}, `Bearer ${ADMIN_TOKEN}`)).status, 400, 'no sub: 400');
  t.equal(JSON.parse((await admin(cluster, { sub: 'user-alice', realm: 'nope' }, `Bearer ${ADMIN_TOKEN}`)).body).error, 'GH_UNKNOWN_REALM');
  const done = await admin(cluster, { sub: 'user-alice' }, `Bearer ${ADMIN_TOKEN}`);
  t.equal(done.status, 200, 'B accepted it');
  t.same(JSON.parse(done.body).realms, ['agent', 'user'], 'in every realm');

  cluster.use(0);
  t.same(
    [await status(cluster, laptop, '/agent/api/whoami'), await status(cluster, phone, '/agent/api/whoami'), await status(cluster, phone, '/api/whoami')],
    [401, 401, 401],
    "every one of alice's sessions is ended on A",
  );
  t.equal(await status(cluster, bob, '/api/whoami'), 200, "bob's session is untouched");
  const back = await signIn(`${cluster.publicUrl}/agent/`, ALICE, { jar: laptop });
  t.equal(back.final.status, 200, 'alice can sign in again afterwards');
  t.equal(await status(cluster, laptop, '/agent/api/whoami'), 200);
  const audit = cluster.logs.find((l) => l.audit === 'admin-sign-out');
  t.equal(audit?.instance, 1);
  t.equal(audit?.sub, 'user-alice');
  t.notOk(cluster.logText().includes(ADMIN_TOKEN), 'the admin token is never logged');
});

t.test('one realm only', async (t) => {
  const cluster = await startCluster({ store: 'cookie', instances: 1 });
  t.teardown(() => cluster.close());
  cluster.use(0);
  const jar = (await signIn(`${cluster.publicUrl}/agent/`, ALICE)).jar;
  await signIn(`${cluster.publicUrl}/`, ALICE, { jar });
  const res = await admin(cluster, { sub: 'user-alice', realm: 'agent' }, `Bearer ${ADMIN_TOKEN}`);
  t.same(JSON.parse(res.body).realms, ['agent']);
  t.same([await status(cluster, jar, '/agent/api/whoami'), await status(cluster, jar, '/api/whoami')], [401, 200]);
});

t.test('without admin.token the admin API does not exist', async (t) => {
  const cluster = await startCluster({ store: 'cookie', instances: 1, adminToken: undefined });
  t.teardown(() => cluster.close());
  cluster.use(0);
  const res = await admin(cluster, { sub: 'user-alice' }, `Bearer ${ADMIN_TOKEN}`);
  t.equal(res.status, 404);
  t.equal(JSON.parse(res.body).error, 'GH_NOT_FOUND');
});
