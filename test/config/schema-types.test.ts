/** Per-key checks derived from the schema: types, enums, ranges, durations, lists. */
import t from 'tap';
import { errorsOf, load, summary, variant, type RawConfig } from './fixtures/config.js';

const cases: [string, (c: RawConfig) => void, string][] = [
  ['an integer given as a string', (c) => (c.listen = { port: '8080' }), 'listen.port: must be an integer between 0 and 65535 (got "8080")'],
  ['an integer out of range', (c) => (c.workers = 0), 'workers: must be between 1 and 256 (got 0)'],
  [
    'a word other than auto where auto or an integer is expected',
    (c) => (c.workers = 'all'),
    'workers: must be auto or an integer between 1 and 256 (got "all")',
  ],
  ['metrics.listen needs a port', (c) => (c.metrics = { listen: { host: '127.0.0.1' } }), 'metrics.listen.port: required key is missing'],
  [
    'a fraction where an integer is expected',
    (c) => (c.limits = { max_header_bytes: 2048.5 }),
    'limits.max_header_bytes: must be an integer between 1024 and 1048576 (got 2048.5)',
  ],
  ['a boolean given as a word', (c) => (c.upstream.websockets = 'yes'), 'upstream.websockets: must be true or false (got "yes")'],
  ['an enum typo', (c) => (c.session.store = 'Redis'), 'session.store: must be one of: cookie, redis (got "Redis"; did you mean "redis"?)'],
  ['an enum far off', (c) => (c.log = { level: 'loud' }), 'log.level: must be one of: fatal, error, warn, info, debug, trace, silent (got "loud")'],
  ['a duration without unit', (c) => (c.upstream.timeout = 30), 'upstream.timeout: must be a duration like 90s, 15m, 8h, 30d or 1h30m (got 30)'],
  ['a duration below its minimum', (c) => (c.session.lifetime = '30s'), 'session.lifetime: must be at least 1m (got "30s")'],
  ['a duration above its maximum', (c) => (c.identity = { assertion_ttl: '2h' }), 'identity.assertion_ttl: must be at most 1h (got "2h")'],
  ['a scalar where a list is expected', (c) => (c.realms.agent.paths = '/agent'), 'realms.agent.paths: must be a list, e.g. [/agent] (got "/agent")'],
  ['an empty list where one entry is needed', (c) => (c.realms.agent.paths = []), 'realms.agent.paths: must list at least one entry'],
  ['a list where a string is expected', (c) => (c.public_url = ['https://a']), 'public_url: must be a string (got a list)'],
  ['a mapping where a list is expected', (c) => (c.public_paths = { a: 1 }), 'public_paths: must be a list (got a mapping)'],
  ['a scalar where a mapping is expected', (c) => (c.upstream = 'http://deskpro'), 'upstream: must be a mapping (got "http://deskpro")'],
  ['an empty string', (c) => (c.realms.agent.provider.client_id = ''), 'realms.agent.provider.client_id: must not be empty'],
  ['a required key written empty', (c) => (c.realms.agent.provider.client_id = null), 'realms.agent.provider.client_id: required key has no value'],
  [
    'allow.claims values are strings or lists',
    (c) => (c.realms.agent.allow = { claims: { groups: { a: 1 } } }),
    'realms.agent.allow.claims.groups: must be a string or a list of strings (got a mapping)',
  ],
  [
    'allow.claims lists are not empty',
    (c) => (c.realms.agent.allow = { claims: { groups: [] } }),
    'realms.agent.allow.claims.groups: must list at least one entry',
  ],
  [
    'extra_auth_params values are strings',
    (c) => (c.realms.agent.provider.extra_auth_params = { prompt: ['login'] }),
    'realms.agent.provider.extra_auth_params.prompt: must be a string (got a list)',
  ],
  [
    'email domains have no @',
    (c) => (c.realms.agent.allow = { email_domains: ['@example.com'] }),
    'realms.agent.allow.email_domains[0]: must be a domain like example.com (no @) (got "@example.com")',
  ],
  [
    'scopes have no spaces',
    (c) => (c.realms.agent.provider.scopes = ['openid profile']),
    'realms.agent.provider.scopes[0]: must be a scope without spaces or quotes (got "openid profile")',
  ],
  ['listen.tls needs both files', (c) => (c.listen = { tls: { cert: '/c.pem' } }), 'listen.tls.key: required key is missing'],
];

for (const [name, change, expected] of cases) {
  t.test(name, async (t) => {
    t.same(summary(errorsOf(variant(change))), [expected]);
  });
}

t.test('plain numbers where text is expected keep their spelling', async (t) => {
  const { config } = load(variant((c) => (c.realms.agent.provider.client_id = 'ID')).replace('client_id: ID', 'client_id: 0123'));
  t.equal(config.realms.agent!.provider.client_id, '0123');
});

t.test('allow.claims takes a string or a list per claim', async (t) => {
  const { config } = load(variant((c) => (c.realms.agent.allow = { claims: { groups: ['a', 'b'], 'https://example.com/role': 'agent' } })));
  t.same(config.realms.agent!.allow.claims, { groups: ['a', 'b'], 'https://example.com/role': 'agent' });
});
