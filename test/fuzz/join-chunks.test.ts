// Fuzz: reading the Cookie header (http/cookies.ts readCookies) and reassembling
// chunked session cookies (session/codec.ts joinChunks, staleChunkNames) from
// attacker-controlled headers. Nothing throws; every cookie is read (no count limit: the header size bounds it);
// names like __proto__ cannot pollute anything; split → join round-trips; a
// joined value always starts with the first chunk and never reads past
// MAX_CHUNKS; staleChunkNames only names cookies that are present.
import t from 'tap';
import fc from 'fast-check';
import { readCookies } from '../../src/edge/cookies.js';
import { CHUNK_SIZE, MAX_CHUNKS, joinChunks, splitIntoChunks, staleChunkNames } from '../../src/session/codec.js';
import { budget } from './fixtures/budget.js';

const NAME = '__Host-gatehouse-agent';
const cookieName = fc.oneof(
  fc.constantFrom(
    NAME,
    `${NAME}.1`,
    `${NAME}.2`,
    `${NAME}.7`,
    `${NAME}.8`,
    `${NAME}.01`,
    `${NAME}.-1`,
    `${NAME}.1.1`,
    '__proto__',
    'constructor',
    'toString',
    'hasOwnProperty',
    '',
  ),
  fc.string({ maxLength: 12 }),
);
const cookieValue = fc.oneof(fc.string({ maxLength: 40 }), fc.constantFrom('', '"', '""', '"x"', '=', '==', ';'));

t.test('readCookies never throws and never pollutes', async (t) => {
  const header = fc.oneof(
    fc.string({ unit: 'binary', maxLength: 600 }),
    fc
      .array(fc.tuple(cookieName, cookieValue), { maxLength: 150 })
      .map((pairs) => pairs.map(([n, v]) => `${n}=${v}`).join(fc.sample(fc.constantFrom('; ', ';', ' ; ', ';;'), 1)[0]!)),
  );
  fc.assert(
    fc.property(header, (cookie) => {
      const jar = readCookies({ cookie });
      const names = Object.keys(jar);
      // an empty header gives the shared frozen empty jar; any other jar inherits nothing (an empty frozen prototype, then null)
      const proto = Object.getPrototypeOf(jar) as object | null;
      const inheritsNothing = proto !== null && Object.isFrozen(proto) && Reflect.ownKeys(proto).length === 0 && Object.getPrototypeOf(proto) === null;
      return (
        (names.length === 0 || inheritsNothing) && ({} as Record<string, unknown>).polluted === undefined && names.every((n) => typeof jar[n] === 'string')
      );
    }),
    budget(3000),
  );
  t.equal(Object.getPrototypeOf({}), Object.prototype);
});

t.test('joinChunks and staleChunkNames on any jar', async (t) => {
  // runs of consecutive chunks (name, name.1, … name.k, up to past MAX_CHUNKS) mixed with anything else
  const run = fc
    .tuple(fc.integer({ min: 0, max: MAX_CHUNKS + 4 }), cookieValue)
    .map(([k, v]) => Array.from({ length: k }, (_, n) => [n === 0 ? NAME : `${NAME}.${n}`, `${v}${n}`] as [string, string]));
  const jar = fc.tuple(run, fc.array(fc.tuple(cookieName, cookieValue), { maxLength: 20 }), fc.boolean()).map(([chunks, others, first]) => {
    const pairs = first ? [...chunks, ...others] : [...others, ...chunks];
    return readCookies({ cookie: pairs.map(([n, v]) => `${n}=${v}`).join('; ') });
  });
  fc.assert(
    fc.property(jar, fc.integer({ min: -2, max: 12 }), (cookies, keep) => {
      const joined = joinChunks(cookies, NAME);
      if (cookies[NAME] === undefined) {
        if (joined !== undefined) return false;
      } else if (typeof joined !== 'string' || !joined.startsWith(cookies[NAME]!)) return false;
      // never more than MAX_CHUNKS pieces
      let max = cookies[NAME]?.length ?? 0;
      for (let n = 1; n < MAX_CHUNKS; n++) max += cookies[`${NAME}.${n}`]?.length ?? 0;
      if ((joined?.length ?? 0) > max) return false;
      return staleChunkNames(cookies, NAME, keep).every((name) => cookies[name] !== undefined);
    }),
    budget(5000),
  );
  t.pass();
});

t.test('split → join round-trips for every value that fits', async (t) => {
  const value = fc.string({ unit: fc.constantFrom(...'ABCabc012-_.'.split('')), minLength: 1, maxLength: CHUNK_SIZE * MAX_CHUNKS });
  fc.assert(
    fc.property(value, (v) => {
      const chunks = splitIntoChunks(NAME, v);
      const jar = Object.fromEntries(chunks);
      return (
        chunks.length <= MAX_CHUNKS &&
        chunks.every(([, c]) => c.length <= CHUNK_SIZE) &&
        joinChunks(jar, NAME) === v &&
        staleChunkNames(jar, NAME, chunks.length).length === 0
      );
    }),
    budget(300),
  );
  t.pass();
});
