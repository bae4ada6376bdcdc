/** The documented example, gateway.yaml at the repository root, must stay valid. */
import t from 'tap';
import { fileURLToPath } from 'node:url';
import { readFileSync } from 'node:fs';
import type { ConfigError } from '../../src/errors.js';
import { loadConfigFile } from '../../src/config/load.js';

const file = fileURLToPath(new URL('../../gateway.yaml', import.meta.url));
const env = {
  GATEHOUSE_SESSION_SECRET: 'example-session-secret-0123456789abcdef',
  AGENT_CLIENT_ID: 'agent-app',
  AGENT_CLIENT_SECRET: 'agent-app-secret',
  USER_CLIENT_ID: 'user-app',
  USER_CLIENT_SECRET: 'user-app-secret',
};

t.test('gateway.yaml loads with its variables set, without warnings', async (t) => {
  const { config, warnings } = loadConfigFile(file, env);
  t.same(warnings, []);
  t.same(Object.keys(config.realms), ['agent', 'user']);
  t.equal(config.realms.agent!.provider.client_id, 'agent-app');
  t.equal(config.realms.user!.provider.client_secret, 'user-app-secret');
  t.same(config.session.secret, [env.GATEHOUSE_SESSION_SECRET]);
  t.equal(config.realms.user!.login, 'button');
});

t.test('gateway.yaml names its schema on the first line', async (t) => {
  t.equal(readFileSync(file, 'utf8').split('\n')[0], '# yaml-language-server: $schema=./gateway.schema.json');
});

t.test('an unset variable: a default is suggested for a plain key, never for a secret (issue 15, item 4)', async (t) => {
  const error = t.throws(() => loadConfigFile(file, {})) as ConfigError;
  const message = (key: string) => error.problems.find((p) => p.key === key)?.message;
  t.equal(message('realms.agent.provider.client_id'), 'environment variable AGENT_CLIENT_ID is not set (use ${AGENT_CLIENT_ID:-default} for a default)');
  t.equal(
    message('realms.agent.provider.client_secret'),
    'environment variable AGENT_CLIENT_SECRET is not set: set it where gatehouse starts (export AGENT_CLIENT_SECRET=…, docker run -e AGENT_CLIENT_SECRET, or Environment=AGENT_CLIENT_SECRET=… in a systemd unit); a secret takes no default',
  );
  t.notMatch(message('session.secret[0]'), /:-default/);
});

t.test('without its variables, gateway.yaml names each one missing', async (t) => {
  const error = t.throws(() => loadConfigFile(file, {})) as ConfigError;
  t.same(
    error.problems.map((p) => p.message.replace(/ \(use .*|: set it where .*/, '')),
    ['GATEHOUSE_SESSION_SECRET', 'AGENT_CLIENT_ID', 'AGENT_CLIENT_SECRET', 'USER_CLIENT_ID', 'USER_CLIENT_SECRET'].map(
      (name) => `environment variable ${name} is not set`,
    ),
  );
});
