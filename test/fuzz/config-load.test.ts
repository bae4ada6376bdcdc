// Fuzz: loading gateway.yaml (config/load.ts parseConfigText), the one parser an
// operator — or whoever can write the file or its environment — controls. For
// any text and environment it returns a config or throws ConfigError with
// problems that name a line and column; never another exception, never a hang.
// Secrets stay secret: however the file is broken, no problem message echoes the
// session secret or a client secret.
import t from 'tap';
import fc from 'fast-check';
import { stringify } from 'yaml';
import { parseConfigText } from '../../src/config/load.js';
import { ConfigError } from '../../src/errors.js';
import { budget } from './fixtures/budget.js';

const SESSION_SECRET = 'SessionSecretNeverEcho-0123456789abcdefXYZ';
const CLIENT_SECRET = 'ClientSecretNeverEcho-0123456789abcdefXYZ';
const BASE = `public_url: http://127.0.0.1:8080
listen:
  host: 127.0.0.1
  port: 8080
upstream:
  url: http://127.0.0.1:9001
  timeout: 5s
session:
  secret: "${SESSION_SECRET}"
public_paths:
  - /favicon.ico
realms:
  agent:
    paths: [/agent]
    callback_path: /agent/login/authenticate-callback/1
    logout_path: /agent/logout
    provider:
      issuer: http://127.0.0.1:9000/
      client_id: fuzz-agent
      client_secret: ${CLIENT_SECRET}
  user:
    paths: [/]
    callback_path: /login/authenticate-callback/2
    provider:
      issuer: http://127.0.0.1:9000/
      client_id: fuzz-user
      client_secret: '${CLIENT_SECRET}'
limits:
  failed_callbacks_per_minute: 10
log:
  level: info
`;
const LINES = BASE.split('\n');

/** Load, and say whether the outcome is an acceptable one. */
function loadsOrExplains(text: string, env: Record<string, string> = {}): boolean {
  try {
    const { config } = parseConfigText(text, 'gateway.yaml', env);
    return typeof config === 'object' && config !== null;
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    return (
      error.problems.length > 0 &&
      error.problems.every((p) => Number.isInteger(p.line) && Number.isInteger(p.column) && typeof p.message === 'string') &&
      !error.problems.some((p) => `${p.key} ${p.message}`.includes(SESSION_SECRET) || `${p.key} ${p.message}`.includes(CLIENT_SECRET))
    );
  }
}

t.test('the valid base loads', async (t) => {
  t.ok(loadsOrExplains(BASE));
  t.doesNotThrow(() => parseConfigText(BASE, 'gateway.yaml', {}));
});

t.test('arbitrary text', async (t) => {
  const text = fc.oneof(
    fc.string({ unit: 'binary', maxLength: 400 }),
    fc.string({ unit: fc.constantFrom(...':- \n\t{}[],&*!|>\'"%@`#?$'.split(''), 'a', 'realms', 'public_url', '${X}', '${', '<<'), maxLength: 200 }),
    fc.jsonValue({ maxDepth: 4 }).map((v) => stringify(v)),
  );
  fc.assert(
    fc.property(text, (s) => loadsOrExplains(s)),
    budget(3000),
  );
  t.pass();
});

t.test('a valid file, mutated line by line', async (t) => {
  const scalar = fc.oneof(
    fc.string({ maxLength: 20 }),
    fc.constantFrom(
      '',
      '~',
      'null',
      'true',
      '0',
      '-1',
      '1e309',
      '.inf',
      '0x10',
      '[]',
      '{}',
      '"',
      "'",
      '|',
      '>',
      '&a',
      '*a',
      '!!binary AAAA',
      '${MISSING}',
      '${X:-y}',
      '$${',
      '${A${B}}',
      '90',
      '90q',
      'http://',
      'https://evil.example',
      '/',
      '//x',
      '0.0.0.0/0',
      'x'.repeat(300),
    ),
  );
  const mutation = fc.oneof(
    fc.record({ kind: fc.constant('drop' as const), line: fc.nat(LINES.length - 1) }),
    fc.record({ kind: fc.constant('dup' as const), line: fc.nat(LINES.length - 1) }),
    fc.record({ kind: fc.constant('indent' as const), line: fc.nat(LINES.length - 1), by: fc.integer({ min: -4, max: 4 }) }),
    fc.record({ kind: fc.constant('value' as const), line: fc.nat(LINES.length - 1), value: scalar }),
    fc.record({ kind: fc.constant('insert' as const), line: fc.nat(LINES.length - 1), text: scalar }),
  );
  fc.assert(
    fc.property(
      fc.array(mutation, { minLength: 1, maxLength: 4 }),
      fc.dictionary(fc.constantFrom('X', 'A', 'B', 'MISSING'), fc.string({ maxLength: 10 })),
      (mutations, env) => {
        const lines = [...LINES];
        for (const m of mutations) {
          const line = lines[m.line % lines.length] ?? '';
          // the secrets' lines keep their values (the property is that they are never echoed)
          const secretLine = line.includes(SESSION_SECRET) || line.includes(CLIENT_SECRET);
          switch (m.kind) {
            case 'drop':
              lines.splice(m.line % lines.length, 1);
              break;
            case 'dup':
              lines.splice(m.line % lines.length, 0, line);
              break;
            case 'indent':
              lines[m.line % lines.length] = m.by >= 0 ? ' '.repeat(m.by) + line : line.slice(Math.min(-m.by, line.length - line.trimStart().length));
              break;
            case 'value':
              if (!secretLine && line.includes(':')) lines[m.line % lines.length] = `${line.slice(0, line.indexOf(':') + 1)} ${m.value}`;
              break;
            case 'insert':
              lines.splice(m.line % lines.length, 0, m.text);
              break;
          }
        }
        return loadsOrExplains(lines.join('\n'), env);
      },
    ),
    budget(3000),
  );
  t.pass();
});
