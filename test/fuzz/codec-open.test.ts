// Fuzz: opening sealed cookies (session/codec.ts open) with attacker-controlled
// input. open() must never throw or reject, whatever the bytes; a mutation of a
// genuine sealed value (a character changed, removed, inserted, the value cut or
// doubled) must open to nothing or to exactly the original payload (base64url has
// spare bits in its last character — never to anything else); values sealed under
// another key or purpose open to nothing; and seal → open round-trips.
import t from 'tap';
import fc from 'fast-check';
import { deriveSealKeys, open, seal } from '../../src/session/codec.js';
import { budget } from './fixtures/budget.js';

const keys = deriveSealKeys(['fuzz-secret-0123456789abcdefghijklmnopqrstuv', 'older-secret-0123456789abcdefghijklmnopqrstu'], 'session:agent');
const otherRealm = deriveSealKeys(['fuzz-secret-0123456789abcdefghijklmnopqrstuv'], 'session:user');
const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const b64 = fc.string({ unit: fc.constantFrom(...B64.split('')), maxLength: 80 });
const part = fc.oneof(
  b64,
  fc.string({ maxLength: 20 }),
  fc.constantFrom('', 'eyJhbGciOiJkaXIiLCJlbmMiOiJBMjU2R0NNIn0', 'eyJhbGciOiJub25lIn0', 'e30', 'bnVsbA'),
);

t.test('open never throws, whatever the input', async (t) => {
  const inputs = fc.oneof(
    fc.string({ unit: 'binary', maxLength: 400 }),
    fc.tuple(fc.constantFrom('g1.', 'g1', 'g2.', 'G1.', ''), fc.array(part, { minLength: 1, maxLength: 7 })).map(([prefix, parts]) => prefix + parts.join('.')),
    fc.constantFrom('g1.', 'g1....', 'g1.' + 'A'.repeat(40_000), 'g1.eyJhbGciOiJkaXIiLCJlbmMiOiJBMjU2R0NNIiwia2lkIjoiX19wcm90b19fIn0....'),
  );
  await fc.assert(
    fc.asyncProperty(inputs, async (input) => {
      const value = await open(input, keys);
      return value === null || (typeof value === 'object' && value !== null);
    }),
    budget(3000),
  );
  t.pass('no throw, no rejection');
});

t.test('a mutated sealed value opens to nothing or to the very same payload', async (t) => {
  const payload = { v: 1, id: 'session-1', realm: 'agent', sub: 'alice', claims: { groups: ['a'] }, createdAt: 1, seenAt: 1 };
  const sealed = await seal(payload, keys);
  const mutation = fc.oneof(
    fc.record({ kind: fc.constant('replace' as const), at: fc.nat(sealed.length - 1), with: fc.string({ minLength: 1, maxLength: 1, unit: 'binary-ascii' }) }),
    fc.record({ kind: fc.constant('delete' as const), at: fc.nat(sealed.length - 1), count: fc.integer({ min: 1, max: 20 }) }),
    fc.record({ kind: fc.constant('insert' as const), at: fc.nat(sealed.length), with: fc.string({ minLength: 1, maxLength: 5 }) }),
    fc.record({ kind: fc.constant('truncate' as const), at: fc.nat(sealed.length - 1) }),
    fc.record({ kind: fc.constant('double' as const) }),
  );
  await fc.assert(
    fc.asyncProperty(mutation, async (m) => {
      let mutated: string;
      switch (m.kind) {
        case 'replace':
          mutated = sealed.slice(0, m.at) + m.with + sealed.slice(m.at + 1);
          break;
        case 'delete':
          mutated = sealed.slice(0, m.at) + sealed.slice(m.at + m.count);
          break;
        case 'insert':
          mutated = sealed.slice(0, m.at) + m.with + sealed.slice(m.at);
          break;
        case 'truncate':
          mutated = sealed.slice(0, m.at);
          break;
        case 'double':
          mutated = sealed + sealed;
          break;
      }
      const opened = await open(mutated, keys);
      return opened === null || JSON.stringify(opened) === JSON.stringify(payload);
    }),
    budget(3000),
  );
  t.pass('never another payload');
});

t.test('round trip, and no opening under another key or purpose', async (t) => {
  await fc.assert(
    fc.asyncProperty(fc.dictionary(fc.string({ maxLength: 10 }), fc.jsonValue({ maxDepth: 3 }), { maxKeys: 8 }), async (payload) => {
      const sealed = await seal(payload, keys);
      const back = await open(sealed, keys);
      // rotation: a value sealed with the older (second) secret alone still opens under the list
      const older = await seal(payload, keys.slice(1));
      return (
        JSON.stringify(back) === JSON.stringify(JSON.parse(JSON.stringify(payload))) &&
        (await open(sealed, otherRealm)) === null &&
        (await open(older, keys)) !== null &&
        (await open(older, keys.slice(0, 1))) === null
      );
    }),
    budget(400),
  );
  t.pass('round-trips, and stays within its key and purpose');
});
