/** A secret value never appears in a problem, whatever is wrong with it. */
import t from 'tap';
import { formatProblems } from '../../src/config/load.js';
import { problemsOf, variant, type RawConfig } from './fixtures/config.js';

const SECRET = 'Hunter2-very-secret-value';

const cases: [string, (c: RawConfig) => void, RegExp][] = [
  ['session.secret too short', (c) => (c.session.secret = SECRET), /session\.secret: must be at least 32 characters \(got 25\)/],
  ['session.secret in a list, too short', (c) => c.session.secret.push(SECRET), /session\.secret\[1\]: must be at least 32 characters/],
  [
    'session.secret of the wrong type',
    (c) => (c.session.secret = { value: SECRET }),
    /session\.secret: must be a string or a list of strings \(value hidden\)/,
  ],
  ['session.secret list item of the wrong type', (c) => (c.session.secret = [[SECRET]]), /session\.secret\[0\]: must be a string \(value hidden\)/],
  [
    'client_secret of the wrong type',
    (c) => (c.realms.agent.provider.client_secret = [SECRET]),
    /realms\.agent\.provider\.client_secret: must be a string \(value hidden\)/,
  ],
  [
    'client_secret unused with private_key_jwt',
    (c) => Object.assign(c.realms.agent.provider, { client_auth: 'private_key_jwt', private_key_file: '/k', client_secret: SECRET }),
    /client_secret: is not used/,
  ],
  [
    'identity.signing.secret too short',
    (c) => (c.identity = { signing: { alg: 'HS256', secret: SECRET } }),
    /identity\.signing\.secret: must be at least 32 characters \(got 25\)/,
  ],
  ['identity.signing.secret with ES256', (c) => (c.identity = { signing: { secret: SECRET } }), /identity\.signing\.secret: must not be set when alg is ES256/],
  [
    'identity.signing.secret of the wrong type',
    (c) => (c.identity = { signing: { alg: 'HS256', secret: { s: SECRET } } }),
    /identity\.signing\.secret: must be a string \(value hidden\)/,
  ],
  ['admin.token too short', (c) => (c.admin = { token: SECRET }), /admin\.token: must be at least 32 characters \(got 25\)/],
  ['admin.token of the wrong type', (c) => (c.admin = { token: [SECRET] }), /admin\.token: must be a string \(value hidden\)/],
  [
    'a password in redis_url',
    (c) => {
      c.session.store = 'redis';
      c.session.redis_url = `http://user:${SECRET}@cache`;
    },
    /session\.redis_url: must be a redis:\/\/ or rediss:\/\/ URL \(got "http:\/\/user:\*\*\*@cache"\)/,
  ],
];

for (const [name, change, expected] of cases) {
  t.test(name, async (t) => {
    const output = formatProblems(problemsOf(variant(change)));
    t.match(output, expected);
    t.notMatch(output, /Hunter2/, 'the value is not echoed');
  });
}

t.test('a secret written as a number is hidden too', async (t) => {
  const output = formatProblems(problemsOf(variant((c) => (c.admin = { token: 123456789 }))));
  t.match(output, /admin\.token: must be at least 32 characters \(got 9\)/);
  t.notMatch(output, /123456789/);
});
