import t from 'tap';
import { interpolateString } from '../../src/config/load.js';
import { CLIENT_SECRET, MINIMAL, errorsOf, load, summary } from './fixtures/config.js';

const withClientId = (value: string) => MINIMAL.replace('client_id: agent', () => `client_id: ${value}`);

t.test('${NAME} anywhere in a string value is replaced by the variable', async (t) => {
  const { config } = load(withClientId('pre-${CLIENT}-${REGION}'), { CLIENT: 'agent-app', REGION: 'eu' });
  t.equal(config.realms.agent!.provider.client_id, 'pre-agent-app-eu');
});

t.test('${NAME:-default} uses the default when NAME is unset or empty', async (t) => {
  t.equal(load(withClientId('${CLIENT:-fallback}')).config.realms.agent!.provider.client_id, 'fallback');
  t.equal(load(withClientId('${CLIENT:-fallback}'), { CLIENT: '' }).config.realms.agent!.provider.client_id, 'fallback');
  t.equal(load(withClientId('${CLIENT:-fallback}'), { CLIENT: 'set' }).config.realms.agent!.provider.client_id, 'set');
  t.equal(load(withClientId('"x${SUFFIX:-}"')).config.realms.agent!.provider.client_id, 'x', 'an empty default');
});

t.test('an unset variable is a problem at that scalar, naming the variable', async (t) => {
  const problems = errorsOf(withClientId('${AGENT_CLIENT_ID}'));
  t.same(summary(problems), [
    'realms.agent.provider.client_id: environment variable AGENT_CLIENT_ID is not set (use ${AGENT_CLIENT_ID:-default} for a default)',
  ]);
  t.match(problems[0], { file: 'gateway.yaml', line: 12, column: 18 }, 'line and column of the value');
});

t.test('a value that needed an unset variable is reported once, not again by later checks', async (t) => {
  const text = MINIMAL.replace(`client_secret: ${CLIENT_SECRET}`, 'client_secret: ${AGENT_CLIENT_SECRET}').replace(/secret: session-secret\S+/, 'secret: ${S}');
  t.same(summary(errorsOf(text)), [
    'session.secret: environment variable S is not set: set it where gatehouse starts (export S=…, docker run -e S, or Environment=S=… in a systemd unit); a secret takes no default',
    'realms.agent.provider.client_secret: environment variable AGENT_CLIENT_SECRET is not set: set it where gatehouse starts (export AGENT_CLIENT_SECRET=…, docker run -e AGENT_CLIENT_SECRET, or Environment=AGENT_CLIENT_SECRET=… in a systemd unit); a secret takes no default',
  ]);
});

t.test('$${ writes a literal ${', async (t) => {
  t.equal(load(withClientId('"a$${NOT_A_VAR}b"')).config.realms.agent!.provider.client_id, 'a${NOT_A_VAR}b');
  t.equal(interpolateString('pa$$word $HOME', {}).text, 'pa$$word $HOME', 'other dollars are left alone');
});

t.test('substitution happens after parsing: a variable cannot add YAML structure', async (t) => {
  const injected = 'x\nrealms: {evil: {}}\nextra: [1]';
  const { config } = load(withClientId('${CLIENT}'), { CLIENT: injected });
  t.equal(config.realms.agent!.provider.client_id, injected);
  t.same(Object.keys(config.realms), ['agent']);
  t.equal(load(withClientId('${CLIENT}'), { CLIENT: '[a, b]' }).config.realms.agent!.provider.client_id, '[a, b]');
});

t.test('a value is substituted once: a variable holding ${OTHER} stays literal', async (t) => {
  const { config } = load(withClientId('${CLIENT}'), { CLIENT: '${OTHER}', OTHER: 'no' });
  t.equal(config.realms.agent!.provider.client_id, '${OTHER}');
});

t.test('an unquoted ${VAR} may stand for a number or boolean where the key expects one', async (t) => {
  const text = `${MINIMAL}listen:\n  port: \${PORT}\nlog:\n  access: \${ACCESS:-true}\n`;
  const { config } = load(text, { PORT: '9090' });
  t.equal(config.listen.port, 9090);
  t.equal(config.log.access, true);
  const quoted = errorsOf(`${MINIMAL}listen:\n  port: "\${PORT}"\n`, { PORT: '9090' });
  t.same(summary(quoted), ['listen.port: must be an integer between 0 and 65535 (got "9090")'], 'quoted stays a string');
  const notNumber = errorsOf(`${MINIMAL}listen:\n  port: \${PORT}\n`, { PORT: 'eighty' });
  t.same(summary(notNumber), ['listen.port: must be an integer between 0 and 65535 (got "eighty")']);
  t.equal(load(withClientId('${NUMERIC}'), { NUMERIC: '000123' }).config.realms.agent!.provider.client_id, '000123', 'strings stay strings');
});

t.test('malformed references are problems, without echoing the text', async (t) => {
  t.same(interpolateString('abc ${UNCLOSED', {}).problems, ['has an unterminated "${" (write "$${" for a literal "${")']);
  t.match(interpolateString('${not valid}', {}).problems, [/invalid variable reference/]);
  t.match(interpolateString('${1ABC}', {}).problems, [/invalid variable reference/]);
  const problems = errorsOf(MINIMAL.replace(`client_secret: ${CLIENT_SECRET}`, 'client_secret: "hunter2-${oops here}"'));
  t.match(summary(problems), [/^realms\.agent\.provider\.client_secret: has an invalid variable reference/]);
  t.notMatch(JSON.stringify(problems), /hunter2|oops/);
});

t.test('keys are never interpolated', async (t) => {
  const problems = errorsOf(`${MINIMAL}\${KEY}: 1\n`, { KEY: 'workers' });
  t.same(summary(problems), ['["${KEY}"]: unknown key']);
});
