/**
 * Issue 15 (1): the indentation mistakes a new operator made in the README's
 * example set up for Auth0, each reported once, in plain words, at the line to
 * change, naming the key. The parser alone said "Nested mappings are not
 * allowed in compact mappings" a line or two below the mistake, or "Map keys
 * must be unique" four times naming no key; each case first checks that it
 * still reproduces what the issue saw.
 */
import t from 'tap';
import { LineCounter, parseDocument } from 'yaml';
import { formatProblems } from '../../src/config/load.js';
import { load, problemsOf } from './fixtures/config.js';
import { runCli, tempDir, writeFile } from '../helpers/ops.js';

/** The README's two-realm example as an Auth0 operator writes it (client_secret_post, the namespaced groups claim). */
const AUTH0 = `# yaml-language-server: $schema=./gateway.schema.json
public_url: https://helpdesk.example.com
trusted_proxies: [10.0.0.0/8]
upstream:
  url: http://deskpro.internal:80
session:
  secret: \${GATEHOUSE_SESSION_SECRET}        # openssl rand -base64 32
identity:
  signing:
    key_file: /etc/gatehouse/signing.pem
realms:
  agent:
    paths: [/agent]
    callback_path: /agent/login/authenticate-callback/1
    login: automatic                         # straight to the provider
    provider:
      issuer: https://example-tenant.eu.auth0.com/
      client_id: \${AGENT_CLIENT_ID}
      client_secret: \${AGENT_CLIENT_SECRET}
      client_auth: client_secret_post
    claims:
      groups: https://helpdesk.example.com/groups
    allow:
      claims:
        "https://helpdesk.example.com/groups": [helpdesk-agents]
  user:
    paths: [/]
    callback_path: /login/authenticate-callback/2
    login: button                            # show a page with a button first
    button_text: Sign in with Example SSO
    provider:
      issuer: https://example-tenant.eu.auth0.com/
      client_id: \${USER_CLIENT_ID}
      client_secret: \${USER_CLIENT_SECRET}
      client_auth: client_secret_post
`;
const ENV = {
  GATEHOUSE_SESSION_SECRET: 'mQ3vX9kP2rT7wZ4nB8cF1hJ6sL0dG5yA',
  AGENT_CLIENT_ID: 'agent-app',
  AGENT_CLIENT_SECRET: 'agent-app-secret',
  USER_CLIENT_ID: 'user-app',
  USER_CLIENT_SECRET: 'user-app-secret',
};

/** AUTH0 with line `n` (1-based) changed */
function withLine(n: number, change: (line: string) => string): string {
  const lines = AUTH0.split('\n');
  lines[n - 1] = change(lines[n - 1]!);
  return lines.join('\n');
}

/** what the yaml parser alone says: `line:column message` */
function parserSays(text: string): string[] {
  const lineCounter = new LineCounter();
  return parseDocument(text, { lineCounter, uniqueKeys: true, prettyErrors: false }).errors.map((e) => {
    const { line, col } = lineCounter.linePos(e.pos[0]);
    return `${line}:${col} ${e.message}`;
  });
}

t.test('the example itself loads', async (t) => {
  t.doesNotThrow(() => load(AUTH0, ENV));
});

t.test('issuer and client_id de-indented to the column of "provider:"', async (t) => {
  const text = withLine(18, (l) => l.replace(/^ {6}/, '    '))
    .split('\n')
    .map((l, i) => (i === 16 ? l.replace(/^ {6}/, '    ') : l))
    .join('\n');
  t.same(
    parserSays(text),
    [
      '18:16 Nested mappings are not allowed in compact mappings',
      '18:16 Implicit keys need to be on a single line',
      '19:22 Nested mappings are not allowed in compact mappings',
      '19:22 Implicit keys need to be on a single line',
    ],
    "the issue's reproduction: the parser points at 18:16 and 19:22",
  );
  t.equal(
    formatProblems(problemsOf(text, ENV)),
    'gateway.yaml:17:5  realms.agent.provider.issuer: is indented 4 spaces, the same as "provider:" on line 16, so it is not inside provider (nor is "client_id" on line 18) and provider is left empty; "client_secret" on line 19 is indented 6 spaces. Indent the keys inside provider equally: 6 spaces\n' +
      '1 problem — gatehouse did not start',
  );
});

t.test('one extra space on line 33', async (t) => {
  const text = withLine(33, (l) => ` ${l}`);
  t.same(
    parserSays(text),
    ['32:15 Nested mappings are not allowed in compact mappings', '32:15 Implicit keys need to be on a single line'],
    "the issue's reproduction: reported at 32:15",
  );
  t.equal(
    formatProblems(problemsOf(text, ENV)),
    'gateway.yaml:33:8  realms.user.provider.client_id: is indented 7 spaces, more than "issuer" on line 32 (6 spaces), which has a value and so cannot have keys inside it. Indent the keys of one block equally: 6 spaces, like "issuer"\n' +
      '1 problem — gatehouse did not start',
  );
});

t.test('"user:" nested one level too deep', async (t) => {
  const text = withLine(26, (l) => `  ${l}`);
  t.same(
    parserSays(text).map((s) => s.replace(/^\d+:\d+ /, '')),
    Array(4).fill('Map keys must be unique'),
    "the issue's reproduction: four times, naming no key",
  );
  t.equal(
    formatProblems(problemsOf(text, ENV)),
    'gateway.yaml:26:5  realms.user: is indented 4 spaces, like the keys inside agent (line 12), so it is read as a key of agent with nothing inside it, and the lines after it as agent\'s own keys a second time (paths, callback_path, login, provider). If "user" is a block of its own next to agent, indent "user:" 2 spaces, like "agent:" on line 12\n' +
      '1 problem — gatehouse did not start',
  );
});

t.test('a key between two levels', async (t) => {
  const text = withLine(18, (l) => l.slice(1));
  t.equal(
    formatProblems(problemsOf(text, ENV)),
    'gateway.yaml:18:6  realms.agent.provider.client_id: is indented 5 spaces, which lines up with no block above it ("issuer" on line 17 is at 6 spaces, "provider" on line 16 is at 4 spaces). Indent it 6 spaces, like "issuer"\n' +
      '1 problem — gatehouse did not start',
  );
});

t.test('the first key of a block off by one, the rest at the usual step', async (t) => {
  const text = withLine(17, (l) => l.slice(1));
  t.equal(
    formatProblems(problemsOf(text, ENV)),
    'gateway.yaml:17:6  realms.agent.provider.issuer: is indented 5 spaces, but the keys after it inside provider are at 6 spaces ("client_id" on line 18). Indent the keys inside provider equally: 6 spaces\n' +
      '1 problem — gatehouse did not start',
  );
});

t.test('two mistakes in one file: both, once each', async (t) => {
  const text = withLine(33, (l) => ` ${l}`)
    .split('\n')
    .map((l, i) => (i === 12 ? ` ${l}` : l))
    .join('\n');
  const problems = problemsOf(text, ENV);
  t.same(
    problems.map((p) => `${p.line}:${p.column} ${p.key}`),
    ['13:6 realms.agent.paths', '33:8 realms.user.provider.client_id'],
  );
});

t.test("what the layout reading cannot explain keeps the parser's words, once per line", async (t) => {
  const text = withLine(13, (l) => l.replace('[/agent]', '[/agent'));
  const problems = problemsOf(text, ENV);
  t.equal(problems.length, 1);
  t.match(problems[0], { line: 14, key: '', message: /^YAML: / });
});

t.test('what the operator sees: serve and check print it and exit 2', async (t) => {
  const file = writeFile(
    tempDir(t),
    'gateway.yaml',
    withLine(33, (l) => ` ${l}`),
  );
  const expected = `${file}:33:8  realms.user.provider.client_id: is indented 7 spaces, more than "issuer" on line 32 (6 spaces), which has a value and so cannot have keys inside it. Indent the keys of one block equally: 6 spaces, like "issuer"`;
  const serve = await runCli(['serve', '--config', file], { env: ENV });
  t.equal(serve.code, 2);
  t.equal(serve.stderr, `${expected}\n1 problem — gatehouse did not start\n`);
  const check = await runCli(['check', '--config', file], { env: ENV });
  t.equal(check.code, 2);
  t.equal(check.stderr, `${file}: the configuration is invalid\n  ${expected}\n1 problem — gatehouse would not start (exit 2)\n`);
});
