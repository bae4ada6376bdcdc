// A session too large for one cookie (about 3.5 KB each) is split into chunks —
// name, name.1, name.2 — and joined again on the way in. A missing or altered
// chunk is "signed out". The person here belongs to many groups, which the ID
// token (kept for logout) and the session both carry.
import t from 'tap';
import { DEMO_ACCOUNTS } from '../../src/demo/provider.js';
import { CookieJar, fetchWithJar } from '../helpers/browserless.js';
import { startTestStack } from '../helpers/stack.js';

const GROUPS = Array.from({ length: 90 }, (_, i) => `helpdesk-team-${String(i).padStart(3, '0')}-members`);
const DAVE = {
  username: 'dave',
  password: 'dave-demo',
  sub: 'user-dave',
  email: 'dave@example.com',
  email_verified: true,
  name: 'Dave Many-Groups',
  groups: GROUPS,
};

t.test('a large session is split into chunks and reassembled', async (t) => {
  const stack = await startTestStack({ accounts: [...DEMO_ACCOUNTS, DAVE] });
  t.teardown(() => stack.close());
  const name = stack.cookieName('user');
  const flow = await stack.signIn('/tickets', DAVE);
  t.equal(flow.final.status, 200, 'signed in');

  const chunks = flow.jar
    .all(stack.publicUrl)
    .filter((c) => c.name === name || c.name.startsWith(`${name}.`))
    .sort((a, b) => a.name.localeCompare(b.name));
  t.same(
    chunks.map((c) => c.name),
    [name, `${name}.1`, `${name}.2`],
    'three chunks: name, .1, .2',
  );
  for (const chunk of chunks) t.ok(chunk.value.length <= 3500, `${chunk.name} is ${chunk.value.length} characters, within one cookie`);

  const seen = stack.upstream.requests.at(-1)!;
  t.equal(seen.headers['x-auth-subject'], 'user-dave', 'the joined session forwards the identity');
  t.equal(seen.headers['x-auth-groups'], GROUPS.join(','), 'every group arrives');
  t.notMatch(String(seen.headers.cookie ?? ''), 'gatehouse-', "the gateway's own cookies are not sent to the helpdesk");

  const info = await fetchWithJar(`${stack.publicUrl}/.gatehouse/userinfo?realm=user`, { jar: flow.jar });
  t.equal(info.status, 200);
  t.equal(JSON.parse(info.body).groups.length, GROUPS.length);

  const whoami = (jar: CookieJar) => fetchWithJar(`${stack.publicUrl}/api/whoami`, { jar, headers: { accept: 'application/json' } });
  const only = (names: Record<string, string>) => {
    const jar = new CookieJar();
    for (const [n, v] of Object.entries(names)) jar.setCookie(stack.publicUrl, `${n}=${v}; Path=/`);
    return jar;
  };
  const [first, second, third] = chunks.map((c) => c.value) as [string, string, string];
  t.equal((await whoami(only({ [name]: first, [`${name}.1`]: second, [`${name}.2`]: third }))).status, 200, 'all three: signed in');
  t.equal((await whoami(only({ [name]: first, [`${name}.2`]: third }))).status, 401, 'a missing middle chunk: signed out');
  t.equal((await whoami(only({ [name]: first, [`${name}.1`]: second }))).status, 401, 'a missing last chunk: signed out');
  t.equal((await whoami(only({ [name]: first, [`${name}.1`]: third, [`${name}.2`]: second }))).status, 401, 'chunks swapped: signed out');
  t.equal(
    (await whoami(only({ [name]: first, [`${name}.1`]: second.replace(/^./, (c) => (c === 'A' ? 'B' : 'A')), [`${name}.2`]: third }))).status,
    401,
    'a chunk altered: signed out',
  );
});
