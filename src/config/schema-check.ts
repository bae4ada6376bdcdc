/**
 * Checks a parsed gateway.yaml against the schema in schema.ts: walks the YAML
 * tree itself (not a plain-JS copy) so every problem keeps its line and column,
 * rejects unknown keys with a suggestion, fills defaults, and records where each
 * key was written so validate.ts can point at the keys it complains about.
 * A value that fails is left out (undefined) and the walk goes on: every
 * problem is reported at once.
 */
import { isAlias, isMap, isScalar, isSeq, type Document, type Scalar, type YAMLMap } from 'yaml';
import { formatDuration, parseDuration } from './duration.js';
import type { AnyNode, ObjectNode } from './schema.js';
import type { ConfigProblem } from './types.js';

export type KeyPath = readonly (string | number)[];
export interface Position {
  line: number;
  column: number;
}
export type Locate = (path: KeyPath) => Position;

export interface SchemaCheck {
  /** the config with defaults filled; values that failed are absent */
  value: unknown;
  problems: ConfigProblem[];
  /** where a key was written; for a key not written, its nearest written parent */
  locate: Locate;
}

export interface CheckOptions {
  file: string;
  doc: Document;
  /** 1-based line and column of a source offset */
  position(offset: number): Position;
  /** plain scalars whose text came from ${VAR}: there "8080" may stand for an integer, "true" for a boolean */
  coercible?(node: Scalar): boolean;
  /** scalars already reported (an unset ${VAR}): left out without a second problem */
  reported?(node: Scalar): boolean;
}

/** realms.agent.paths[0]; keys that are not plain words are quoted: claims["https://x/groups"] */
export function formatKeyPath(path: KeyPath): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else if (/^[A-Za-z0-9_-]+$/.test(part)) out += out === '' ? part : `.${part}`;
    else out += `[${JSON.stringify(part)}]`;
  }
  return out;
}

export function checkDocument(schema: AnyNode, options: CheckOptions): SchemaCheck {
  const checker = new Checker(options);
  const root = options.doc.contents;
  const rootAt = root?.range ? options.position(root.range[0]) : { line: 1, column: 1 };
  checker.positions.set('', rootAt);
  // an empty file is an empty mapping: report each missing key, not "the file is missing"
  const value = root === null && schema.kind === 'object' ? checker.object(schema, undefined, [], rootAt) : checker.value(schema, root, [], rootAt);
  const locate: Locate = (path) => {
    for (let n = path.length; n > 0; n--) {
      const at = checker.positions.get(formatKeyPath(path.slice(0, n)));
      if (at) return at;
    }
    return rootAt;
  };
  return { value, problems: checker.problems, locate };
}

/** Levenshtein distance, case-insensitive. */
export function editDistance(a: string, b: string): number {
  const x = a.toLowerCase();
  const y = b.toLowerCase();
  let previous = Array.from({ length: y.length + 1 }, (_, j) => j);
  for (let i = 1; i <= x.length; i++) {
    const current = [i];
    for (let j = 1; j <= y.length; j++) {
      const cost = x[i - 1] === y[j - 1] ? 0 : 1;
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + cost);
    }
    previous = current;
  }
  return previous[y.length]!;
}

/** The closest candidate, if it is close enough to be a likely typo. */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    const distance = editDistance(word, candidate);
    if (distance < bestDistance) [best, bestDistance] = [candidate, distance];
  }
  if (best === undefined) return undefined;
  const tolerance = Math.max(1, Math.floor(Math.max(word.length, best.length) / 3));
  const prefix = word.length >= 4 && best.toLowerCase().startsWith(word.toLowerCase());
  return bestDistance <= tolerance || prefix ? best : undefined;
}

const MERGE_DEPTH = 8;

class Checker {
  readonly problems: ConfigProblem[] = [];
  readonly positions = new Map<string, Position>();
  constructor(private readonly options: CheckOptions) {}

  private report(path: KeyPath, at: Position, message: string): undefined {
    this.problems.push({ file: this.options.file, ...at, key: formatKeyPath(path), message, severity: 'error' });
    return undefined;
  }

  private at(node: unknown, fallback: Position): Position {
    const range = (node as { range?: [number, number, number] } | null)?.range;
    return range ? this.options.position(range[0]) : fallback;
  }

  private resolve(node: unknown): unknown {
    return isAlias(node) ? node.resolve(this.options.doc) : node;
  }

  /** `present` is false when the key was not written at all */
  value(node: AnyNode, raw: unknown, path: KeyPath, at: Position, present = true): unknown {
    const y = this.resolve(raw);
    if (y === undefined || y === null || (isScalar(y) && y.value === null)) {
      if (node.presence === 'required') return this.report(path, at, present ? 'required key has no value' : 'required key is missing');
      if (node.kind === 'object') return node.presence === 'optional' ? undefined : this.object(node, undefined, path, at);
      return structuredClone(node.default);
    }
    if (isScalar(y) && this.options.reported?.(y)) return undefined;
    // a secret may sit under the wrong key (mis-indented, misspelled): any key that names a secret hides its value too
    const lastKey = String(path[path.length - 1] ?? '');
    const got = describe(y, ('secret' in node && node.secret === true) || SECRET_LIKE_KEY.test(lastKey));
    const text = isScalar(y) ? scalarText(y) : undefined;
    const coercible = isScalar(y) && typeof y.value === 'string' && (this.options.coercible?.(y) ?? false);
    switch (node.kind) {
      case 'string': {
        if (text === undefined) return this.report(path, at, `must be a string ${got}`);
        const minLength = node.minLength ?? 1;
        if (text.length < minLength) {
          return this.report(path, at, minLength === 1 ? 'must not be empty' : `must be at least ${minLength} characters (got ${text.length})`);
        }
        if (node.pattern && !node.pattern.test(text)) return this.report(path, at, `must be ${node.patternHint ?? `like ${node.pattern}`} ${got}`);
        return text;
      }
      case 'enum': {
        if (text !== undefined && node.values.includes(text)) return text;
        const guess = text === undefined ? undefined : closest(text, node.values);
        // the suggestion goes inside the parentheses: (got "Redis"; did you mean "redis"?)
        const detail = guess ? got.replace(/\)$/, `; did you mean "${guess}"?)`) : got;
        return this.report(path, at, `must be one of: ${node.values.join(', ')} ${detail}`);
      }
      case 'int': {
        const range = `between ${node.min} and ${node.max}`;
        let n = isScalar(y) && typeof y.value === 'number' ? y.value : undefined;
        if (coercible && /^[-+]?\d+$/.test(String(y.value).trim())) n = Number(String(y.value).trim());
        if (n === undefined || !Number.isInteger(n)) return this.report(path, at, `must be an integer ${range} ${got}`);
        return n < node.min || n > node.max ? this.report(path, at, `must be ${range} ${got}`) : n;
      }
      case 'int-or-auto': {
        if (text !== undefined && text.trim() === 'auto') return 'auto';
        const range = `between ${node.min} and ${node.max}`;
        let n = isScalar(y) && typeof y.value === 'number' ? y.value : undefined;
        if (coercible && /^[-+]?\d+$/.test(String(y.value).trim())) n = Number(String(y.value).trim());
        if (n === undefined || !Number.isInteger(n)) return this.report(path, at, `must be auto or an integer ${range} ${got}`);
        return n < node.min || n > node.max ? this.report(path, at, `must be ${range} ${got}`) : n;
      }
      case 'number': {
        const range = `between ${node.min} and ${node.max}`;
        let n = isScalar(y) && typeof y.value === 'number' ? y.value : undefined;
        if (coercible && /^[-+]?(\d+\.?\d*|\.\d+)$/.test(String(y.value).trim())) n = Number(String(y.value).trim());
        if (n === undefined || !Number.isFinite(n)) return this.report(path, at, `must be a number ${range} ${got}`);
        return n < node.min || n > node.max ? this.report(path, at, `must be ${range} ${got}`) : n;
      }
      case 'boolean': {
        if (isScalar(y) && typeof y.value === 'boolean') return y.value;
        const word = coercible ? String(y.value).trim().toLowerCase() : '';
        if (word === 'true' || word === 'false') return word === 'true';
        return this.report(path, at, `must be true or false ${got}`);
      }
      case 'duration': {
        const ms = text === undefined ? null : parseDuration(text);
        if (ms === null) return this.report(path, at, `must be a duration like 90s, 15m, 8h, 30d or 1h30m ${got}`);
        if (node.minMs !== undefined && ms < node.minMs) return this.report(path, at, `must be at least ${formatDuration(node.minMs)} ${got}`);
        if (node.maxMs !== undefined && ms > node.maxMs) return this.report(path, at, `must be at most ${formatDuration(node.maxMs)} ${got}`);
        return text;
      }
      case 'list':
      case 'string-or-list': {
        if (node.kind === 'string-or-list' && isScalar(y)) return this.value(node.items, y, path, at);
        if (!isSeq(y)) {
          const example = text === undefined || got.includes('not shown') || got.includes('hidden') ? '' : `, e.g. [${text}]`;
          const what = node.kind === 'list' ? `a list${example}` : 'a string or a list of strings';
          return this.report(path, at, `must be ${what} ${got}`);
        }
        const items: unknown[] = [];
        y.items.forEach((item, i) => {
          const itemAt = this.at(item, at);
          this.positions.set(formatKeyPath([...path, i]), itemAt);
          const value = this.value(node.items, item, [...path, i], itemAt);
          if (value !== undefined) items.push(value);
        });
        const minItems = node.kind === 'list' ? (node.minItems ?? 0) : 1;
        if (y.items.length < minItems) return this.report(path, at, 'must list at least one entry');
        return items;
      }
      case 'map': {
        if (!isMap(y)) return this.report(path, at, `must be a mapping ${got}`);
        const out: Record<string, unknown> = {};
        for (const entry of this.entries(y, path, at)) {
          const entryPath = [...path, entry.key];
          if (node.keyPattern && !node.keyPattern.test(entry.key)) {
            this.report(entryPath, entry.at, `must be ${node.keyHint ?? `like ${node.keyPattern}`} (got "${entry.key}")`);
            continue;
          }
          const value = this.value(node.values, entry.value, entryPath, entry.at);
          if (value !== undefined) out[entry.key] = value;
        }
        if (Object.keys(out).length === 0 && y.items.length === 0 && (node.minEntries ?? 0) > 0) {
          return this.report(path, at, `must have at least ${node.minEntries} entry`);
        }
        return out;
      }
      case 'object': {
        if (!isMap(y)) return this.report(path, at, `must be a mapping ${got}`);
        return this.object(node, y, path, at);
      }
    }
  }

  object(node: ObjectNode, y: YAMLMap | undefined, path: KeyPath, at: Position): Record<string, unknown> {
    const known = Object.keys(node.keys);
    const written = new Map<string, { value: unknown; at: Position }>();
    for (const entry of y ? this.entries(y, path, at) : []) {
      if (Object.hasOwn(node.keys, entry.key)) {
        written.set(entry.key, entry);
        continue;
      }
      this.report([...path, entry.key], entry.at, `unknown key${suggestion(entry.key, node)}`);
    }
    const out: Record<string, unknown> = {};
    for (const key of known) {
      const entry = written.get(key);
      const value = this.value(node.keys[key]!, entry?.value, [...path, key], entry?.at ?? at, entry !== undefined);
      if (value !== undefined) out[key] = value;
    }
    return out;
  }

  /** The entries of a mapping, with YAML merge keys (`<<: *anchor`) expanded; written keys win. */
  private entries(map: YAMLMap, path: KeyPath, at: Position, depth = 0): { key: string; value: unknown; at: Position }[] {
    const own: { key: string; value: unknown; at: Position }[] = [];
    const merged: typeof own = [];
    for (const pair of map.items) {
      const keyAt = this.at(pair.key, at);
      if (!isScalar(pair.key) || pair.key.value === null) {
        this.report(path, keyAt, 'keys must be plain strings');
        continue;
      }
      if (typeof pair.key.value === 'symbol' || pair.key.value === '<<') {
        const sources = this.resolve(pair.value);
        for (const source of isSeq(sources) ? sources.items.map((s) => this.resolve(s)) : [sources]) {
          if (isMap(source) && depth < MERGE_DEPTH) merged.push(...this.entries(source, path, at, depth + 1));
          else this.report(path, keyAt, 'a merge key (<<) must point at a mapping');
        }
        continue;
      }
      const key = String(pair.key.value);
      this.positions.set(formatKeyPath([...path, key]), keyAt);
      own.push({ key, value: pair.value, at: keyAt });
    }
    const seen = new Set(own.map((e) => e.key));
    for (const entry of merged) {
      if (seen.has(entry.key)) continue;
      seen.add(entry.key);
      this.positions.set(formatKeyPath([...path, entry.key]), entry.at);
      own.push(entry);
    }
    return own;
  }
}

/** ' (did you mean "logout_path"?)', or a key one level down: ' (did you mean "provider.client_id"?)' */
function suggestion(key: string, node: ObjectNode): string {
  const known = Object.keys(node.keys);
  const near = closest(key, known);
  if (near) return ` (did you mean "${near}"?)`;
  for (const [name, child] of Object.entries(node.keys) as [string, AnyNode][]) {
    if (child.kind === 'object' && Object.hasOwn(child.keys, key)) return ` (did you mean "${name}.${key}"?)`;
  }
  return known.length <= 8 ? ` (known keys: ${known.join(', ')})` : '';
}

/** Text of a scalar; a plain number or boolean where text is expected keeps its source spelling (client_id: 0123). */
function scalarText(y: Scalar): string | undefined {
  if (typeof y.value === 'string') return y.value;
  if ((typeof y.value === 'number' || typeof y.value === 'boolean') && y.type === 'PLAIN') return y.source ?? String(y.value);
  return undefined;
}

const SECRET_LIKE_KEY = /secret|token|password|passwd|private|credential|api_?key/i;

/** "(got …)" for a problem message; a secret is never echoed. */
function describe(y: unknown, secret: boolean): string {
  if (secret) return '(value hidden)';
  if (isMap(y)) return '(got a mapping)';
  if (isSeq(y)) return '(got a list)';
  if (isScalar(y)) {
    const value = y.value;
    // multi-line text is other lines swallowed by a stray | or > (a secret among them, perhaps): never echoed
    if (typeof value === 'string' && (value.includes('\n') || SECRET_LIKE_KEY.test(value))) return '(got a text value, not shown)';
    if (typeof value === 'string') return `(got ${JSON.stringify(value.length > 80 ? `${value.slice(0, 77)}...` : value)})`;
    return `(got ${String(value)})`;
  }
  return '(got something else)';
}
