import t from 'tap';
import { formatProblems } from '../../src/config/load.js';
import { MINIMAL, errorsOf, summary } from './fixtures/config.js';

t.test('an unknown key is an error with a suggestion and the exact line:column', async (t) => {
  const text = `${MINIMAL}    logut_path: /agent/logout\n`;
  const [problem, ...rest] = errorsOf(text);
  t.same(rest, []);
  t.same(problem, {
    file: 'gateway.yaml',
    line: 14,
    column: 5,
    key: 'realms.agent.logut_path',
    message: 'unknown key (did you mean "logout_path"?)',
    severity: 'error',
  });
  t.match(
    formatProblems([problem!]),
    /^gateway\.yaml:14:5 {2}realms\.agent\.logut_path: unknown key \(did you mean "logout_path"\?\)\n1 problem — gatehouse did not start$/,
  );
});

t.test('suggestions: typos, case, a key that belongs one level down', async (t) => {
  t.same(summary(errorsOf(`${MINIMAL}Public_URL: x\n`)), ['Public_URL: unknown key (did you mean "public_url"?)']);
  t.same(summary(errorsOf(MINIMAL.replace('upstream:\n', 'upstream:\n  timout: 5s\n'))), ['upstream.timout: unknown key (did you mean "timeout"?)']);
  t.same(summary(errorsOf(MINIMAL.replace('    paths:', '    client_auth: client_secret_post\n    paths:'))), [
    'realms.agent.client_auth: unknown key (did you mean "provider.client_auth"?)',
  ]);
  t.same(summary(errorsOf(MINIMAL.replace('upstream:\n', 'upstream:\n  zzz: 1\n'))), [
    'upstream.zzz: unknown key (known keys: url, timeout, websockets, preserve_host, max_connections)',
  ]);
  t.same(summary(errorsOf(`${MINIMAL}completely_unrelated: 1\n`)), ['completely_unrelated: unknown key']);
});

t.test('map keys chosen by the operator are not "unknown"', async (t) => {
  const text = MINIMAL.replace('      client_id: agent', '      client_id: agent\n      extra_auth_params: {prompt: login, audience: https://api}');
  t.same(errorsOf(text), []);
});
