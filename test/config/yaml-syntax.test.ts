import t from 'tap';
import { ConfigError } from '../../src/errors.js';
import { formatProblems } from '../../src/config/load.js';
import { MINIMAL, load, problemsOf } from './fixtures/config.js';

t.test('a YAML syntax error is reported with its position, and nothing after it', async (t) => {
  const text = 'public_url: https://h.example.com\nrealms:\n  agent:\n    paths: [/agent\n  bogus_key: 1\n';
  const error = t.throws(() => load(text)) as ConfigError;
  t.type(error, ConfigError);
  t.equal(error.problems.length, 1, 'only the syntax error, not the missing keys it causes');
  t.match(error.problems[0], { file: 'gateway.yaml', line: 5, column: 3, key: '', severity: 'error', message: /^YAML: .*flow sequence/i });
});

t.test('bad indentation and duplicate keys', async (t) => {
  const indentation = problemsOf('public_url: x\n  upstream: y\n');
  t.match(indentation, [
    {
      line: 2,
      column: 3,
      key: 'upstream',
      severity: 'error',
      message:
        'is indented 2 spaces, more than "public_url" on line 1 (0 spaces), which has a value and so cannot have keys inside it. Indent the keys of one block equally: 0 spaces, like "public_url"',
    },
  ]);
  t.equal(indentation.length, 1);
  const duplicate = problemsOf(`${MINIMAL}public_url: https://other.example.com\n`);
  t.match(duplicate, [
    { line: 14, column: 1, key: 'public_url', severity: 'error', message: 'is written twice in the same block (first on line 1); keep one' },
  ]);
  t.equal(duplicate.length, 1);
});

t.test('a syntax error message carries no source excerpt (which could hold a secret)', async (t) => {
  const text = 'session:\n  secret: "s3cr3t-value-that-must-not-leak\n';
  const output = formatProblems(problemsOf(text));
  t.match(output, /^gateway\.yaml:\d+:\d+ {2}YAML: /);
  t.notMatch(output, /s3cr3t/);
});

t.test('more than one document is refused', async (t) => {
  t.match(problemsOf(`${MINIMAL}---\nworkers: 2\n`), [{ severity: 'error', message: /^YAML: .*multiple documents/ }]);
});

t.test('YAML merge keys let realms share a provider block', async (t) => {
  const text =
    MINIMAL.replace('    provider:\n', '    provider: &idp\n') +
    '  user:\n    paths: [/]\n    callback_path: /login/callback\n    provider:\n      <<: *idp\n      client_id: user\n';
  const { config } = load(text);
  t.equal(config.realms.user!.provider.client_id, 'user', 'a written key wins over the merged one');
  t.equal(config.realms.user!.provider.issuer, 'https://idp.example.com/');
  t.equal(config.realms.user!.provider.client_secret, config.realms.agent!.provider.client_secret);
});
