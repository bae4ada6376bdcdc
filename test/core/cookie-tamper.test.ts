// A session cookie that was tampered with, truncated, stitched from other chunks
// or is plain garbage means "signed out" — 401 for a script, the sign-in
// redirect for a navigation — and is cleared; never a 500, never forwarded,
// and never answered from the cache entry of the cookie it was made from.
import t from 'tap';
import { ALICE, rawRequest, startTestStack } from '../helpers/stack.js';

t.test('tampered and truncated cookies are signed out, never a 500', async (t) => {
  const stack = await startTestStack();
  t.teardown(() => stack.close());
  const { jar } = await stack.signIn('/agent/', ALICE);
  const name = stack.cookieName('agent');
  const good = jar.get(stack.publicUrl, name)!;
  t.match(good, /^g1\./);
  // the untouched cookie is served first, so it is in the session cache: every variant below (most differ from it in
  // one character, same length) must miss that entry and be opened on its own, never answered from the cache
  const served = await rawRequest(stack.publicUrl, 'GET', '/agent/api/whoami', [
    ['Accept', 'application/json'],
    ['Cookie', `${name}=${good}`],
  ]);
  t.equal(served.status, 200, 'the untouched cookie is signed in');
  t.ok(stack.gw.cache.get(good), 'and cached');
  const forwardedBefore = stack.upstream.requests.length;
  const flip = (s: string, at: number) => s.slice(0, at) + (s[at] === 'A' ? 'B' : 'A') + s.slice(at + 1);
  const parts = good.split('.');

  const variants: Record<string, string> = {
    'one character flipped in the ciphertext': flip(good, Math.floor(good.length / 2)),
    'one character flipped in the tag': flip(good, good.length - 3),
    'one character flipped in the header': flip(good, 5),
    'truncated by 10': good.slice(0, -10),
    'truncated to half': good.slice(0, good.length >> 1),
    'only the prefix': 'g1.',
    empty: '',
    garbage: 'not-a-session',
    'wrong version prefix': `g9.${good.slice(3)}`,
    'parts swapped': [parts[0], parts[1], parts[2], parts[4], parts[3], parts[5]].join('.'),
    quoted: `"${good}"x`,
    'percent junk': '%E0%A4%A',
    huge: `g1.${'A'.repeat(12_000)}`,
  };
  for (const [what, value] of Object.entries(variants)) {
    const cookie: [string, string] = ['Cookie', `${name}=${value}`];
    const api = await rawRequest(stack.publicUrl, 'GET', '/agent/api/whoami', [['Accept', 'application/json'], cookie]);
    t.equal(api.status, 401, `${what}: 401`);
    if (value !== '') t.match(String(api.headers['set-cookie']), `${name}=;`, `${what}: cleared`);
    const nav = await rawRequest(stack.publicUrl, 'GET', '/agent/', [['Accept', 'text/html'], cookie]);
    t.equal(nav.status, 302, `${what}: a navigation goes to sign in`);
  }
  // a chunk the session never had, appended by someone else
  const extra = await rawRequest(stack.publicUrl, 'GET', '/agent/api/whoami', [
    ['Accept', 'application/json'],
    ['Cookie', `${name}=${good}; ${name}.1=AAAA`],
  ]);
  t.equal(extra.status, 401, 'a stray .1 chunk: signed out');
  t.equal(stack.upstream.requests.length, forwardedBefore, 'nothing forwarded');

  const fine = await rawRequest(stack.publicUrl, 'GET', '/agent/api/whoami', [
    ['Accept', 'application/json'],
    ['Cookie', `${name}=${good}`],
  ]);
  t.equal(fine.status, 200, 'the untouched cookie still works');
  t.notOk(
    stack.logs.lines.some((l) => l.level === 50 || l.level === 60),
    'no error logged',
  );
});
