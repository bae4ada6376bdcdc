// The three ways to name a Redis (one server, Sentinel, Cluster): exactly one,
// each well-formed, every bad combination an error that names its key, where
// it is written, and what would be valid.
import t from 'tap';
import type { ConfigError } from '../../src/errors.js';
import { formatProblems } from '../../src/config/load.js';
import { redisTarget } from '../../src/config/redis-target.js';
import { errorsOf, load, problemsOf, summary, variant, type RawConfig } from './fixtures/config.js';

type Change = (c: RawConfig) => void;
const WAYS =
  'set one of session.redis_url (one server), session.redis_sentinels with session.redis_sentinel_master (Sentinel), or session.redis_cluster (Cluster)';
const redis: Change = (c) => (c.session.store = 'redis');

const errors: [string, Change, string[]][] = [
  ['store redis names no Redis', redis, [`session.redis_url: required when store is redis: ${WAYS}`]],
  [
    'redis_url and redis_cluster',
    (c) => {
      redis(c);
      c.session.redis_url = 'redis://cache:6379';
      c.session.redis_cluster = ['10.0.0.5:7000'];
    },
    [`session.redis_cluster: cannot be set together with session.redis_url: set exactly one of ${WAYS.replace('set one of ', '')}`],
  ],
  [
    'all three',
    (c) => {
      redis(c);
      c.session.redis_url = 'redis://cache:6379';
      c.session.redis_sentinels = ['10.0.0.5:26379'];
      c.session.redis_sentinel_master = 'mymaster';
      c.session.redis_cluster = ['10.0.0.5:7000'];
    },
    [
      `session.redis_sentinels: cannot be set together with session.redis_url: set exactly one of ${WAYS.replace('set one of ', '')}`,
      `session.redis_cluster: cannot be set together with session.redis_url: set exactly one of ${WAYS.replace('set one of ', '')}`,
    ],
  ],
  [
    'sentinels without a master name',
    (c) => {
      redis(c);
      c.session.redis_sentinels = ['10.0.0.5:26379'];
    },
    ['session.redis_sentinels: needs session.redis_sentinel_master: the master name the sentinels watch (`sentinel monitor <name> …` in sentinel.conf)'],
  ],
  [
    'a master name without sentinels',
    (c) => {
      redis(c);
      c.session.redis_sentinel_master = 'mymaster';
    },
    [
      `session.redis_url: required when store is redis: ${WAYS}`,
      'session.redis_sentinel_master: needs session.redis_sentinels: the sentinels that watch this master (host:port each)',
    ],
  ],
  [
    'a master name with a cluster',
    (c) => {
      c.session.redis_cluster = ['10.0.0.5:7000'];
      c.session.redis_sentinel_master = 'mymaster';
    },
    ['session.redis_sentinel_master: applies only with session.redis_sentinels (session.redis_cluster is set): remove it, or name the sentinels instead'],
  ],
  [
    'a sentinel entry that is not host:port',
    (c) => {
      c.session.redis_sentinels = ['10.0.0.5:26379', 'http://10.0.0.6:26379'];
      c.session.redis_sentinel_master = 'm';
    },
    ['session.redis_sentinels[1]: must be host:port, redis://host:port or rediss://host:port (TLS) (got scheme http) (got "http://10.0.0.6:26379")'],
  ],
  [
    'a cluster entry with a database',
    (c) => (c.session.redis_cluster = ['redis://10.0.0.5:7000/2']),
    [
      'session.redis_cluster[0]: must be host:port, redis://host:port or rediss://host:port (TLS), without a path or database number (Sentinel and Cluster use database 0) (got "redis://10.0.0.5:7000/2")',
    ],
  ],
  [
    'a cluster entry with a bad port',
    (c) => (c.session.redis_cluster = ['10.0.0.5:700000']),
    ['session.redis_cluster[0]: must be host:port, redis://host:port or rediss://host:port (TLS) (got "10.0.0.5:700000")'],
  ],
  [
    'TLS for some entries only',
    (c) => (c.session.redis_cluster = ['rediss://10.0.0.5:7000', '10.0.0.6:7000']),
    ['session.redis_cluster: mixes redis:// (or host:port) and rediss:// entries: TLS is on for all of them or for none'],
  ],
  ['an empty list', (c) => (c.session.redis_cluster = []), ['session.redis_cluster: must list at least one entry']],
  [
    'two passwords for one server',
    (c) => {
      c.session.redis_url = 'redis://:pw@cache:6379';
      c.session.redis_password = 'other';
    },
    ['session.redis_password: is set and session.redis_url carries a password too: keep one of them'],
  ],
];

for (const [name, change, expected] of errors) {
  t.test(name, async (t) => {
    t.same(summary(errorsOf(variant(change))), expected);
  });
}

t.test('a password without a Redis is a warning, and never echoed', async (t) => {
  const problems = problemsOf(variant((c) => (c.session.redis_password = 'hunter2-hunter2')));
  t.same(summary(problems), [`warning session.redis_password: is set but no Redis is: ${WAYS}, or remove it`]);
  t.notMatch(JSON.stringify(problems), /hunter2/);
});

t.test('each mode, valid: the target it gives the gateway', async (t) => {
  const modes: [Change, unknown][] = [
    [
      (c) => {
        redis(c);
        c.session.redis_url = 'rediss://cache:6380/0';
        c.session.redis_password = 'pw';
      },
      { mode: 'server', url: 'rediss://cache:6380/0', tls: true, password: 'pw' },
    ],
    [
      (c) => {
        redis(c);
        c.session.redis_sentinels = ['10.0.0.5', 'redis://:spw@10.0.0.6:26380', '[fd00::7]:26379'];
        c.session.redis_sentinel_master = 'mymaster';
      },
      {
        mode: 'sentinel',
        sentinels: [
          { host: '10.0.0.5', port: 26379 },
          { host: '10.0.0.6', port: 26380 },
          { host: 'fd00::7', port: 26379 },
        ],
        master: 'mymaster',
        tls: false,
        sentinelPassword: 'spw',
      },
    ],
    [
      (c) => {
        redis(c);
        c.session.redis_cluster = ['rediss://10.0.0.5:7000', 'rediss://10.0.0.6'];
      },
      {
        mode: 'cluster',
        nodes: [
          { host: '10.0.0.5', port: 7000 },
          { host: '10.0.0.6', port: 6379 },
        ],
        tls: true,
      },
    ],
  ];
  for (const [change, target] of modes) {
    const text = variant(change);
    t.same(problemsOf(text), [], 'valid, no warning');
    t.match(redisTarget(load(text).config.session), target as object);
  }
  t.equal(redisTarget(load(variant(() => {})).config.session), undefined, 'no Redis: no target');
});

t.test('reported at file:line:column of the key', async (t) => {
  const text = variant((c) => {
    redis(c);
    c.session.redis_url = 'redis://cache:6379';
    c.session.redis_cluster = ['10.0.0.5:7000'];
  });
  const error = t.throws(() => load(text)) as ConfigError;
  const line = text.split('\n').findIndex((l) => l.includes('redis_cluster')) + 1;
  t.match(formatProblems(error.problems), new RegExp(`^gateway\\.yaml:${line}:3  session\\.redis_cluster: cannot be set together with session\\.redis_url`));
});
