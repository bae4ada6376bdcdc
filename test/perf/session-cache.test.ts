// The session cache (src/session/cache.ts) files long keys — sealed cookies —
// under their length and last 32 characters. It must never hand out the entry
// of another cookie that shares that slot, and stays bounded.
import t from 'tap';
import { TwoGenerationCache } from '../../src/session/cache.js';

const tail = 'T'.repeat(32);
const cookieA = `g1.${'a'.repeat(1700)}${tail}`;
const cookieB = `g1.${'b'.repeat(1700)}${tail}`; // same length, same last 32 characters

t.test('two long keys sharing a slot: a miss, never the other entry', async (t) => {
  const cache = new TwoGenerationCache<string>(100);
  cache.set(cookieA, 'session of A');
  t.equal(cache.get(cookieA), 'session of A');
  t.equal(cache.get(cookieB), undefined, 'B is not A');
  cache.set(cookieB, 'session of B');
  t.equal(cache.get(cookieB), 'session of B');
  t.equal(cache.get(cookieA), undefined, 'A was evicted by B: a miss, not B');
  cache.delete(cookieA);
  t.equal(cache.get(cookieB), 'session of B', 'deleting A leaves B alone');
  cache.delete(cookieB);
  t.equal(cache.get(cookieB), undefined);
});

t.test('an equal key built another way (a new string from the wire) hits', async (t) => {
  const cache = new TwoGenerationCache<string>(100);
  cache.set(cookieA, 'session of A');
  const fromWire = Buffer.from(`x${cookieA}`).toString('latin1').slice(1);
  t.equal(cache.get(fromWire), 'session of A');
  t.equal(cache.get(`${cookieA.slice(0, -1)}U`), undefined, 'one character off at the end');
  t.equal(cache.get(`g2${cookieA.slice(2)}`), undefined, 'one character off at the start');
});

t.test('short keys (Redis ticket ids) are exact; the previous generation is promoted; memory is bounded', async (t) => {
  const cache = new TwoGenerationCache<number>(10);
  for (let i = 0; i < 25; i++) cache.set(`agent\u0000id-${i}`, i);
  t.ok(cache.size <= 20, `size ${cache.size} <= 2 x maxEntries`);
  t.equal(cache.get('agent\u0000id-24'), 24);
  t.equal(cache.get('agent\u0000id-0'), undefined, 'the oldest generation is gone');
  t.equal(cache.get('agent\u0000id-15'), 15, 'found in the previous generation');
  for (let i = 100; i < 109; i++) cache.set(`agent\u0000id-${i}`, i);
  t.equal(cache.get('agent\u0000id-15'), 15, 'promoted to the current generation on its hit');
});

// SessionCache (the gateway's session cache) keeps one entry per session: setting a new value for a session
// drops the value that session was cached under before.
import { SessionCache } from '../../src/session/cache.js';

const entryOf = (id: string, seenAt: number) => ({ session: { id, seenAt } });

t.test('SessionCache: a new value for a session replaces the old one; other sessions are untouched', async (t) => {
  const cache = new SessionCache<ReturnType<typeof entryOf>>(100);
  const a1 = entryOf('session-a', 1);
  const a2 = entryOf('session-a', 2);
  const b1 = entryOf('session-b', 1);
  cache.set(cookieA, a1);
  cache.set('ticket-b', b1);
  t.equal(cache.size, 2);
  t.same(cache.newestOf('session-a'), { value: cookieA, entry: a1 });
  cache.set(`${cookieA.slice(0, -1)}U`, a2); // session a's cookie re-sealed
  t.equal(cache.get(cookieA), undefined, 'the old value of session a is gone');
  t.equal(cache.get(`${cookieA.slice(0, -1)}U`), a2);
  t.equal(cache.get('ticket-b'), b1, 'session b is untouched');
  t.equal(cache.size, 2, 'still one entry per session');
  t.same(cache.newestOf('session-a'), { value: `${cookieA.slice(0, -1)}U`, entry: a2 });
  cache.set('ticket-b', b1);
  t.equal(cache.get('ticket-b'), b1, 'the same value set again (Redis ticket) stays');
  cache.delete('ticket-b');
  t.equal(cache.newestOf('session-b'), undefined, 'a deleted value is not named by the index');
  cache.clear();
  t.equal(cache.size, 0);
  t.equal(cache.newestOf('session-a'), undefined);
});

t.test('SessionCache: bounded like TwoGenerationCache, however many values each session goes through', async (t) => {
  const cache = new SessionCache<ReturnType<typeof entryOf>>(10);
  for (let round = 0; round < 5; round++) for (let s = 0; s < 8; s++) cache.set(`value-${s}-${round}`, entryOf(`session-${s}`, round));
  t.equal(cache.size, 8, '8 sessions × 5 values each: 8 entries');
  for (let s = 0; s < 8; s++) t.equal(cache.newestOf(`session-${s}`)?.value, `value-${s}-4`);
  for (let i = 0; i < 50; i++) cache.set(`other-${i}`, entryOf(`other-${i}`, 0));
  t.ok(cache.size <= 20, `size ${cache.size} <= 2 × maxEntries`);
});
