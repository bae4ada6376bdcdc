import t from 'tap';
import { ConfigError } from '../../src/errors.js';
import { formatProblems } from '../../src/config/load.js';
import type { ConfigProblem } from '../../src/config/types.js';
import { load, problemsOf, variant } from './fixtures/config.js';

t.test('every problem is reported at once, in file order, in the documented format', async (t) => {
  const text = variant((c) => {
    c.realms.agent.provider.issuer = 'http://idp.example.com';
    c.realms.agent.logut_path = '/agent/logout';
  });
  const error = t.throws(() => load(text)) as ConfigError;
  t.type(error, ConfigError);
  t.equal(error.message, '2 configuration problem(s)');
  const lines = text.split('\n');
  const issuerLine = lines.findIndex((l) => l.includes('issuer: http://')) + 1;
  const typoLine = lines.findIndex((l) => l.includes('logut_path')) + 1;
  t.equal(
    formatProblems(error.problems),
    [
      `gateway.yaml:${issuerLine}:7  realms.agent.provider.issuer: must be https:// unless the host is loopback (got "http://idp.example.com")`,
      `gateway.yaml:${typoLine}:5  realms.agent.logut_path: unknown key (did you mean "logout_path"?)`,
      '2 problems — gatehouse did not start',
    ].join('\n'),
  );
});

t.test('schema, interpolation and cross-field problems come together', async (t) => {
  const text = variant((c) => {
    c.workers = 0; // range
    c.upstream.timeout = '30'; // duration without unit
    c.session.store = 'redis'; // cross-field: redis_url missing
    c.realms.agent.login = 'auto'; // enum
    c.realms.user.provider.client_id = '${USER_CLIENT_ID}'; // unset variable
    c.realms.user.bogus = true; // unknown key
  });
  const keys = problemsOf(text).map((p) => p.key);
  t.same(keys.sort(), ['realms.agent.login', 'realms.user.bogus', 'realms.user.provider.client_id', 'session.redis_url', 'upstream.timeout', 'workers']);
});

t.test('formatProblems counts problems and warnings', async (t) => {
  const p = (severity: ConfigProblem['severity'], line: number): ConfigProblem => ({
    file: 'conf/g.yaml',
    line,
    column: 3,
    key: 'a.b',
    message: 'm',
    severity,
  });
  t.equal(formatProblems([]), '');
  t.equal(formatProblems([p('error', 1)]), 'conf/g.yaml:1:3  a.b: m\n1 problem — gatehouse did not start');
  t.equal(
    formatProblems([p('error', 1), p('warning', 2)]),
    'conf/g.yaml:1:3  a.b: m\nconf/g.yaml:2:3  warning: a.b: m\n1 problem, 1 warning — gatehouse did not start',
  );
  t.equal(formatProblems([p('warning', 2), p('warning', 4)]), 'conf/g.yaml:2:3  warning: a.b: m\nconf/g.yaml:4:3  warning: a.b: m\n2 warnings');
  t.equal(formatProblems([{ ...p('error', 7), key: '' }]), 'conf/g.yaml:7:3  m\n1 problem — gatehouse did not start', 'no key: no "key: "');
});

t.test('a missing key points at its parent mapping', async (t) => {
  const text =
    'public_url: https://h.example.com\nupstream:\n  url: http://u\nsession:\n  secret: [Tq4Wm8Zr2Xv6Bn0Lk3Jh7Gf1Ds5Pa9Ce]\nrealms:\n  agent:\n    paths: [/agent]\n    provider:\n      issuer: https://idp.example.com\n      client_secret: x\n';
  const problems = problemsOf(text).filter((p) => p.severity === 'error');
  t.match(problems, [
    { key: 'realms.agent.callback_path', message: 'required key is missing', line: 7, column: 3 },
    { key: 'realms.agent.provider.client_id', message: 'required key is missing', line: 9, column: 5 },
  ]);
  t.equal(problems.length, 2);
});

t.test('an empty file names every required key; a file that is not a mapping says so', async (t) => {
  t.same(
    problemsOf('# nothing yet\n').map((p) => `${p.line}:${p.column} ${p.key}: ${p.message}`),
    [
      '1:1 public_url: required key is missing',
      '1:1 upstream: required key is missing',
      '1:1 session: required key is missing',
      '1:1 realms: required key is missing',
    ],
  );
  t.same(
    problemsOf('- a\n- b\n').map((p) => `${p.key}: ${p.message}`),
    [': must be a mapping (got a list)'],
  );
});

t.test('loadConfigFile reports a missing file as a problem', async (t) => {
  const { loadConfigFile } = await import('../../src/config/load.js');
  const error = t.throws(() => loadConfigFile('/nonexistent/gateway.yaml', {})) as ConfigError;
  t.same(error.problems, [{ file: '/nonexistent/gateway.yaml', line: 1, column: 1, key: '', message: 'file not found', severity: 'error' }]);
});
