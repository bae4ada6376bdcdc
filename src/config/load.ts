/**
 * Reads gateway.yaml: parse YAML keeping positions (yaml's LineCounter),
 * substitute ${VAR} / ${VAR:-default} in string values, check the result
 * against the schema, then the cross-field rules. Every problem is collected
 * and thrown at once as a ConfigError; warnings are returned.
 * This is the only module that reads process.env.
 */
import { readFileSync } from 'node:fs';
import { LineCounter, isMap, isScalar, isSeq, parseDocument, type Document, type Scalar, type YAMLError } from 'yaml';
import { ConfigError } from '../errors.js';
import { checkDocument, formatKeyPath, type KeyPath, type Position } from './schema-check.js';
import { gatewaySchema, type AnyNode } from './schema.js';
import type { ConfigProblem, GatewayConfig } from './types.js';
import { validateConfig, type PartialConfig } from './validate.js';
import { readLayout } from './yaml-layout.js';

export interface LoadedConfig {
  config: GatewayConfig;
  /** problems that did not stop the gateway; print them at start */
  warnings: ConfigProblem[];
  file: string;
}

/** Read and check a config file. Throws ConfigError carrying every problem (and warning) found. */
export function loadConfigFile(path: string, env: NodeJS.ProcessEnv = process.env): LoadedConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (cause) {
    const reason = (cause as NodeJS.ErrnoException).code === 'ENOENT' ? 'file not found' : `cannot read the file (${(cause as Error).message})`;
    throw new ConfigError([{ file: path, line: 1, column: 1, key: '', message: reason, severity: 'error' }]);
  }
  return parseConfigText(text, path, env);
}

/** Check config text; `file` is only used to name the file in problems. */
export function parseConfigText(text: string, file: string, env: NodeJS.ProcessEnv = process.env): LoadedConfig {
  const lineCounter = new LineCounter();
  // merge: YAML `<<: *anchor` lets two realms share one provider block
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, merge: true, uniqueKeys: true });
  const position = (offset: number): Position => {
    const { line, col } = lineCounter.linePos(offset);
    return { line, column: col };
  };
  const fromYaml =
    (severity: ConfigProblem['severity']) =>
    (e: YAMLError): ConfigProblem => ({
      file,
      ...position(e.pos[0]),
      key: '',
      // prettyErrors is off, so the message carries no source excerpt (which could hold a secret)
      message: `YAML: ${withoutSourceText(e.message)}`,
      severity,
    });
  // After a syntax error the tree is unreliable: report the syntax, not its consequences.
  if (doc.errors.length > 0) throw new ConfigError(sortProblems(syntaxProblems(text, doc.errors, file, fromYaml('error'))));
  const problems = doc.warnings.map(fromYaml('warning'));

  const marks: Marks = { fromEnv: new WeakSet(), reported: new WeakSet() };
  problems.push(
    ...interpolateDocument(doc, env, marks, (path, at, message) => ({ file, ...at, key: formatKeyPath(path), message, severity: 'error' }), position),
  );
  const checked = checkDocument(gatewaySchema, {
    file,
    doc,
    position,
    coercible: (node) => marks.fromEnv.has(node),
    reported: (node) => marks.reported.has(node),
  });
  problems.push(...checked.problems);
  // A key that failed already left the config, so a cross-field rule may see it as unset
  // ("client_secret: required …" after "${AGENT_CLIENT_SECRET} is not set"): say it once.
  const failed = new Set(problems.filter((p) => p.severity === 'error').map((p) => p.key));
  problems.push(...validateConfig((checked.value ?? {}) as PartialConfig, { file, locate: checked.locate }).filter((p) => !failed.has(p.key)));

  const all = sortProblems(problems);
  if (all.some((p) => p.severity === 'error')) throw new ConfigError(all);
  return { config: checked.value as GatewayConfig, warnings: all, file };
}

/** the parser's codes for a mapping whose lines are indented unevenly */
const LAYOUT_CODES = new Set<string>(['BAD_INDENT', 'BLOCK_AS_IMPLICIT_KEY', 'MULTILINE_IMPLICIT_KEY', 'DUPLICATE_KEY']);

/**
 * The syntax errors as the operator should read them: an indentation mistake in
 * plain words at the line to change (yaml-layout.ts), and what is still wrong
 * after those lines are repaired in the parser's words, one problem per line.
 */
function syntaxProblems(text: string, errors: YAMLError[], file: string, fromYaml: (e: YAMLError) => ConfigProblem): ConfigProblem[] {
  let remaining = errors;
  const problems: ConfigProblem[] = [];
  const reading = errors.some((e) => LAYOUT_CODES.has(e.code)) ? readLayout(text) : null;
  if (reading !== null && reading.problems.length > 0) {
    for (const p of reading.problems)
      problems.push({ file, line: p.line, column: p.column, key: formatKeyPath(p.path), message: p.message, severity: 'error' });
    const twice = reading.problems.some((p) => p.message.startsWith('is written twice'));
    const lineCounter = new LineCounter();
    remaining = parseDocument(reading.repaired, { lineCounter, prettyErrors: false, uniqueKeys: true }).errors.filter(
      (e) => !(twice && e.code === 'DUPLICATE_KEY'),
    );
  }
  const lines = new Set(problems.map((p) => p.line));
  for (const p of remaining.map(fromYaml)) {
    // the parser often says two things about one place ("Nested mappings…", "Implicit keys…"): the first is enough
    if (!lines.has(p.line)) problems.push(p);
    lines.add(p.line);
  }
  return problems;
}

/**
 * Some yaml messages quote the offending source text ("Unexpected double-quoted-scalar
 * token in YAML stream: \"…\""), which may be a secret's value: the position says where.
 */
function withoutSourceText(message: string): string {
  return message.replace(/^(.*? in YAML stream|Block scalar header includes extra characters|Not a YAML token): [\s\S]*$/, '$1');
}

/**
 * `gateway.yaml:23:7  realms.agent.provider.issuer: must be https:// …` per problem,
 * then `2 problems — gatehouse did not start` (or `1 warning` when nothing stops it).
 */
export function formatProblems(problems: ConfigProblem[]): string {
  if (problems.length === 0) return '';
  const lines = problems.map((p) => {
    const label = p.severity === 'warning' ? 'warning: ' : '';
    return `${p.file}:${p.line}:${p.column}  ${label}${p.key === '' ? '' : `${p.key}: `}${p.message}`;
  });
  const errors = problems.filter((p) => p.severity === 'error').length;
  const warnings = problems.length - errors;
  const count = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
  if (errors === 0) lines.push(count(warnings, 'warning'));
  else lines.push(`${count(errors, 'problem')}${warnings > 0 ? `, ${count(warnings, 'warning')}` : ''} — gatehouse did not start`);
  return lines.join('\n');
}

export interface Interpolated {
  text: string;
  /** true when at least one ${…} was replaced */
  substituted: boolean;
  problems: string[];
}

const REFERENCE = /\$\$\{|\$\{([^}]*)\}|\$\{/g;
const VARIABLE = /^([A-Za-z_][A-Za-z0-9_]*)(?::-([\s\S]*))?$/;

/**
 * `${NAME}` → env NAME (unset is a problem; set-but-empty gives ""),
 * `${NAME:-default}` → default when NAME is unset or empty, `$${` → a literal `${`.
 * One pass: a variable's value is never itself expanded.
 */
export function interpolateString(text: string, env: NodeJS.ProcessEnv, options: { secret?: boolean } = {}): Interpolated {
  const problems: string[] = [];
  let substituted = false;
  const out = text.replace(REFERENCE, (match: string, inner: string | undefined) => {
    if (match === '$${') return '${';
    // the reference itself is not echoed: in a secret's value it could be part of the secret
    if (inner === undefined) {
      problems.push('has an unterminated "${" (write "$${" for a literal "${")');
      return match;
    }
    const reference = VARIABLE.exec(inner);
    if (reference === null) {
      problems.push('has an invalid variable reference: use ${NAME} or ${NAME:-default} (NAME: letters, digits, _), or "$${" for a literal "${"');
      return match;
    }
    substituted = true;
    const [, name = '', fallback] = reference;
    const value = env[name];
    if (fallback !== undefined) return value === undefined || value === '' ? fallback : value;
    if (value === undefined) {
      // a default for a secret would be a secret written in the file: say how to set the variable instead
      problems.push(
        options.secret
          ? `environment variable ${name} is not set: set it where gatehouse starts (export ${name}=…, docker run -e ${name}, or Environment=${name}=… in a systemd unit); a secret takes no default`
          : `environment variable ${name} is not set (use \${${name}:-default} for a default)`,
      );
      return '';
    }
    return value;
  });
  return { text: out, substituted, problems };
}

interface Marks {
  /** plain scalars whose text came from ${VAR}: "8080" there may stand for an integer */
  fromEnv: WeakSet<Scalar>;
  /** scalars with an interpolation problem, so the schema does not report them again */
  reported: WeakSet<Scalar>;
}

/** Interpolate every string value in place (never keys). */
function interpolateDocument(
  doc: Document,
  env: NodeJS.ProcessEnv,
  marks: Marks,
  problem: (path: KeyPath, at: Position, message: string) => ConfigProblem,
  position: (offset: number) => Position,
): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const walk = (node: unknown, path: KeyPath): void => {
    if (isMap(node)) {
      for (const pair of node.items) walk(pair.value, [...path, isScalar(pair.key) ? String(pair.key.value) : '?']);
    } else if (isSeq(node)) {
      for (const [i, item] of node.items.entries()) walk(item, [...path, i]);
    } else if (isScalar(node) && typeof node.value === 'string' && node.value.includes('$')) {
      const result = interpolateString(node.value, env, { secret: isSecretKey(path) });
      const at = position(node.range?.[0] ?? 0);
      for (const message of result.problems) problems.push(problem(path, at, message));
      if (result.problems.length > 0) marks.reported.add(node);
      node.value = result.text;
      if (result.substituted && node.type === 'PLAIN') marks.fromEnv.add(node);
    }
  };
  walk(doc.contents, []);
  return problems;
}

/** true when the schema marks the key at `path` as a secret (session.secret, client_secret, …) */
function isSecretKey(path: KeyPath): boolean {
  let node: AnyNode | undefined = gatewaySchema;
  for (const part of path) {
    if (node === undefined) return false;
    if (node.kind === 'object') node = (node.keys as Record<string, AnyNode>)[String(part)];
    else if (node.kind === 'map') node = node.values;
    else if (node.kind === 'list' || node.kind === 'string-or-list') node = node.items;
    else return false;
  }
  return node !== undefined && 'secret' in node && node.secret === true;
}

function sortProblems(problems: ConfigProblem[]): ConfigProblem[] {
  const seen = new Set<string>();
  const unique = problems.filter((p) => {
    const id = `${p.line}:${p.column}:${p.key}:${p.message}`;
    if (seen.has(id)) return false;
    seen.add(id);
    return true;
  });
  return unique.sort((a, b) => a.line - b.line || a.column - b.column);
}
