// Fuzz: the login-attempt cookie (session/login-attempt.ts) an attacker can send
// to the callback. openLoginAttempt must never throw and must return either null
// or a well-typed, unexpired attempt — also for values sealed with the right key
// whose payload is not an attempt (the gateway must not trust shape because the
// seal is ours). attemptCookieSuffix maps any state to a safe cookie-name suffix
// or null.
import t from 'tap';
import fc from 'fast-check';
import { deriveSealKeys, seal } from '../../src/session/codec.js';
import { LOGIN_ATTEMPT_TTL_MS, attemptCookieSuffix, newLoginAttempt, openLoginAttempt, sealLoginAttempt } from '../../src/session/login-attempt.js';
import { budget } from './fixtures/budget.js';

const keys = deriveSealKeys(['fuzz-secret-0123456789abcdefghijklmnopqrstuv'], 'login-attempt:agent');
const NOW = 1_800_000_000_000;

function wellTyped(a: Record<string, unknown>): boolean {
  return (
    a.v === 1 &&
    ['realm', 'state', 'nonce', 'codeVerifier', 'returnTo'].every((k) => typeof a[k] === 'string') &&
    typeof a.createdAt === 'number' &&
    NOW - (a.createdAt as number) <= LOGIN_ATTEMPT_TTL_MS &&
    (a.createdAt as number) <= NOW + 60_000
  );
}

t.test('openLoginAttempt on sealed payloads of any shape', async (t) => {
  const field = fc.oneof(
    fc.string({ maxLength: 20 }),
    fc.integer(),
    fc.double(),
    fc.boolean(),
    fc.constant(null),
    fc.array(fc.string(), { maxLength: 2 }),
    fc.object({ maxDepth: 1 }),
  );
  const payload = fc.oneof(
    fc.record(
      {
        v: fc.oneof(fc.constant(1), field),
        realm: field,
        state: field,
        nonce: field,
        codeVerifier: field,
        returnTo: field,
        createdAt: fc.oneof(fc.integer({ min: NOW - 2 * LOGIN_ATTEMPT_TTL_MS, max: NOW + 120_000 }), field),
      },
      { requiredKeys: [] },
    ),
    fc.jsonValue({ maxDepth: 2 }),
    fc.constantFrom(null, [], 'attempt', 0, { __proto__: { v: 1 } }, { constructor: { prototype: { polluted: true } } }),
  );
  await fc.assert(
    fc.asyncProperty(payload, async (p) => {
      const attempt = await openLoginAttempt(await seal(p, keys), keys, NOW);
      return attempt === null || wellTyped(attempt as unknown as Record<string, unknown>);
    }),
    budget(2000),
  );
  // a genuine attempt with exactly one field removed or replaced by anything
  const genuine = newLoginAttempt('agent', '/agent/', NOW) as unknown as Record<string, unknown>;
  const corrupted = fc.tuple(fc.constantFrom(...Object.keys(genuine)), fc.option(field, { nil: undefined })).map(([key, value]) => {
    const copy = { ...genuine };
    if (value === undefined) delete copy[key];
    else copy[key] = value;
    return copy;
  });
  await fc.assert(
    fc.asyncProperty(corrupted, async (p) => {
      const attempt = await openLoginAttempt(await seal(p, keys), keys, NOW);
      return attempt === null || wellTyped(attempt as unknown as Record<string, unknown>);
    }),
    budget(1000),
  );
  t.equal(({} as Record<string, unknown>).polluted, undefined, 'no prototype pollution');
});

t.test('openLoginAttempt on raw strings, and a real attempt survives only unexpired', async (t) => {
  await fc.assert(
    fc.asyncProperty(
      fc.oneof(
        fc.string({ unit: 'binary', maxLength: 300 }),
        fc.string({ maxLength: 100 }).map((s) => `g1.${s}`),
      ),
      async (value) => (await openLoginAttempt(value, keys, NOW)) === null,
    ),
    budget(2000),
  );
  await fc.assert(
    fc.asyncProperty(fc.integer({ min: -3 * LOGIN_ATTEMPT_TTL_MS, max: 3 * LOGIN_ATTEMPT_TTL_MS }), async (age) => {
      const attempt = newLoginAttempt('agent', '/agent/', NOW - age);
      const opened = await openLoginAttempt(await sealLoginAttempt(attempt, keys), keys, NOW);
      const fresh = age <= LOGIN_ATTEMPT_TTL_MS && age >= -60_000;
      return fresh ? opened?.state === attempt.state : opened === null;
    }),
    budget(300),
  );
  t.pass();
});

t.test('attemptCookieSuffix maps any state to a safe suffix or null', async (t) => {
  fc.assert(
    fc.property(
      fc.oneof(fc.string({ unit: 'binary', maxLength: 80 }), fc.string({ unit: fc.constantFrom(...'Aa0-_=;,. \r\n'.split('')), minLength: 40, maxLength: 46 })),
      (state) => {
        const suffix = attemptCookieSuffix(state);
        return suffix === null || /^[A-Za-z0-9_-]{20}$/.test(suffix);
      },
    ),
    budget(5000),
  );
  t.pass();
});
