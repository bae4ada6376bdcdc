/**
 * Plain words for YAML indentation mistakes. The yaml parser says where its
 * grammar broke, which is often a line or two below the mistake and in its own
 * terms ("Nested mappings are not allowed in compact mappings", or "Map keys
 * must be unique" four times for one key nested too deep). This module reads
 * the indentation of the lines itself and says which line to change, names
 * the key, and says how far to indent it, once per mistake.
 *
 * It runs only after the parser found an error. Each mistake it finds is
 * repaired in a copy of the text and the reading starts again, so one mistake
 * is not reported again through its consequences; the repaired text is parsed
 * once more by the caller, and what is still wrong there keeps the parser's
 * words. A line it cannot read with confidence (a quoted string over several
 * lines, a tab, a second document) stops it: then the parser's messages stand.
 */
import type { KeyPath } from './schema-check.js';

export interface LayoutProblem {
  line: number;
  column: number;
  /** the key as the operator meant it (after the repair) */
  path: KeyPath;
  message: string;
}

export interface LayoutReading {
  problems: LayoutProblem[];
  /** the text with every repair applied: parse it to see what else is wrong */
  repaired: string;
}

/** One meaningful line: a key, a sequence item, or a scalar's continuation. */
interface Line {
  /** 1-based line number */
  n: number;
  /** 0-based column of the key, or of the "-" of an item without a key */
  col: number;
  /** 0-based column of a leading "- " */
  dash?: number;
  key?: string;
  /** "key:" (or "-") with nothing after it: a block follows */
  opens: boolean;
  /** no key and no "-": the continuation of a scalar written on the lines above */
  text: boolean;
}

interface Entry {
  line: Line;
  col: number;
  /** a number for a sequence item */
  key: string | number;
  opens: boolean;
  path: KeyPath;
}

interface Frame {
  col: number;
  path: KeyPath;
  seq: boolean;
  keys: Map<string, Entry>;
  items: number;
  /** the entry whose block this is (undefined at the top) */
  opener?: Entry;
  /** index in `lines` of the block's first line */
  start: number;
}

const MAX_REPAIRS = 20;

export function readLayout(text: string): LayoutReading | null {
  const source = text.split('\n');
  const lines = readLines(source);
  if (lines === null || lines.length === 0) return null;
  const problems: LayoutProblem[] = [];
  const step = usualStep(lines);
  for (let round = 0; round < MAX_REPAIRS; round++) {
    const found = scan(lines, step);
    if (found.problem === undefined) {
      problems.push(...found.notes);
      break;
    }
    problems.push(found.problem);
  }
  const shift = new Map(lines.map((l) => [l.n, (l.dash ?? l.col) - indentOf(source[l.n - 1]!)]));
  const repaired = source
    .map((s, i) => {
      const by = shift.get(i + 1) ?? 0;
      return by > 0 ? ' '.repeat(by) + s : by < 0 ? s.slice(-by) : s;
    })
    .join('\n');
  return { problems: problems.sort((a, b) => a.line - b.line), repaired };
}

/** how far this file usually indents a block under its key (2 when it cannot tell) */
function usualStep(lines: Line[]): number {
  const counts = new Map<number, number>();
  lines.forEach((l, i) => {
    const next = lines[i + 1];
    const by = next ? (next.dash ?? next.col) - (l.dash !== undefined && l.key !== undefined ? l.col : (l.dash ?? l.col)) : 0;
    if (l.opens && by > 0) counts.set(by, (counts.get(by) ?? 0) + 1);
  });
  return [...counts].sort((a, b) => b[1] - a[1] || a[0] - b[0])[0]?.[0] ?? 2;
}

function indentOf(s: string): number {
  return /^ */.exec(s)![0].length;
}

/** null when a line cannot be read with confidence */
function readLines(source: string[]): Line[] | null {
  const lines: Line[] = [];
  let flowDepth = 0;
  let blockScalarOf = -1; // the column whose block scalar we are inside
  for (let i = 0; i < source.length; i++) {
    const raw = source[i]!.replace(/\r$/, '');
    const indent = indentOf(raw);
    const rest = raw.slice(indent);
    if (blockScalarOf >= 0) {
      if (rest === '' || indent > blockScalarOf) continue;
      blockScalarOf = -1;
    }
    if (flowDepth > 0) {
      flowDepth += brackets(rest);
      if (flowDepth < 0) return null;
      continue;
    }
    if (rest === '' || rest.startsWith('#')) continue;
    if (rest.startsWith('\t') || /^(---|\.\.\.)(\s|$)|^%/.test(rest)) return null;
    const line: Line = { n: i + 1, col: indent, opens: false, text: false };
    let content = rest;
    const item = /^-( +|$)/.exec(content);
    if (item) {
      line.dash = indent;
      line.col = indent + item[0].length;
      content = content.slice(item[0].length);
      if (/^-( |$)/.test(content)) return null; // "- - a": nested sequences on one line
    }
    const key = splitKey(content);
    if (key === null) return null;
    let value = content;
    if (key !== undefined) {
      line.key = key.key;
      value = key.value;
    } else if (line.dash === undefined) line.text = true;
    value = value.replace(/(^|\s)#.*$/, '').trim();
    if (line.dash !== undefined && line.key === undefined && value === '') line.col = indent;
    // "key:" or "key: &anchor" or "-": a block follows
    line.opens = !line.text && (value === '' || /^&\S+$/.test(value));
    if (/^[|>][-+0-9]*$/.test(value)) {
      blockScalarOf = line.dash ?? line.col;
    } else if (/^["']/.test(value) && !closesQuote(value)) {
      return null; // a quoted string over several lines
    } else if (/^[[{]/.test(value)) {
      flowDepth = brackets(value);
      if (flowDepth < 0) return null;
    }
    lines.push(line);
  }
  return lines;
}

/** { key, value } for "key: value", undefined when the text has no key, null when it cannot be told */
function splitKey(content: string): { key: string; value: string } | undefined | null {
  const quoted = /^("(?:[^"\\]|\\.)*"|'(?:[^']|'')*')\s*:(?=\s|$)/.exec(content);
  if (quoted) {
    const q = quoted[1]!;
    // YAML's double-quoted escapes are not all JSON's ("\x41"): the raw text names the key well enough
    const key = q.slice(1, -1).replace(q.startsWith("'") ? /''/g : /\\(["\\])/g, q.startsWith("'") ? "'" : '$1');
    return { key, value: content.slice(quoted[0].length) };
  }
  if (/^["'[{|>&*!?]/.test(content)) return undefined;
  const colon = /:(\s|$)/.exec(content);
  if (colon === null) return undefined;
  const key = content.slice(0, colon.index);
  if (key.includes(' #')) return undefined;
  return { key: key.trimEnd(), value: content.slice(colon.index + 1) };
}

function closesQuote(value: string): boolean {
  return value.startsWith('"') ? /^"(?:[^"\\]|\\.)*"/.test(value) : /^'(?:[^']|'')*'/.test(value);
}

/** opened minus closed brackets, outside quotes and comments */
function brackets(text: string): number {
  let depth = 0;
  let quote = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quote) {
      if (c === '\\' && quote === '"') i++;
      else if (c === quote) quote = '';
    } else if (c === '"' || c === "'") quote = c;
    else if (c === '#' && (i === 0 || /\s/.test(text[i - 1]!))) break;
    else if (c === '[' || c === '{') depth++;
    else if (c === ']' || c === '}') depth--;
  }
  return depth;
}

/** a line's entries: an item ("- ") first, then the key written after it */
function entriesOf(line: Line): Array<{ col: number; key?: string; item: boolean; opens: boolean }> {
  if (line.dash === undefined) return [{ col: line.col, key: line.key!, item: false, opens: line.opens }];
  if (line.key === undefined) return [{ col: line.dash, item: true, opens: line.opens }];
  return [
    { col: line.dash, item: true, opens: true },
    { col: line.col, key: line.key, item: false, opens: line.opens },
  ];
}

function shiftLine(line: Line, by: number): void {
  line.col += by;
  if (line.dash !== undefined) line.dash += by;
}

const spaces = (n: number): string => `${n} space${n === 1 ? '' : 's'}`;
const name = (e: Entry | Line): string => {
  const key = 'key' in e && e.key !== undefined ? e.key : undefined;
  return typeof key === 'string' ? `"${key}"` : 'this item';
};

/**
 * The lines that move with `lines[from]` when it is indented differently: it,
 * its siblings at the same column, and the blocks they open.
 */
function runFrom(lines: Line[], from: number): number {
  const col = lines[from]!.dash ?? lines[from]!.col;
  let inBlock = false;
  let end = from;
  for (let j = from; j < lines.length; j++) {
    const l = lines[j]!;
    const at = l.dash ?? l.col;
    if (at === col && !l.text) inBlock = l.opens || (l.dash !== undefined && l.key !== undefined);
    else if (at < col || (!inBlock && !l.text)) break;
    end = j;
  }
  return end;
}

interface ScanResult {
  problem?: LayoutProblem;
  /** problems that need no repair (a key written twice) */
  notes: LayoutProblem[];
}

/** Read the lines top to bottom; stop at the first indentation mistake, repair it in `lines`, and describe it. */
function scan(lines: Line[], step: number): ScanResult {
  const notes: LayoutProblem[] = [];
  const first = lines[0]!;
  const frames: Frame[] = [{ col: first.dash ?? first.col, path: [], seq: first.dash !== undefined, keys: new Map(), items: 0, start: 0 }];
  let prev: Entry | undefined;
  let prevLine: Line | undefined;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.text) continue; // a scalar's continuation: the parser says if it is wrong
    for (const e of entriesOf(line)) {
      if (prev?.opens) {
        const child = e.col > prev.col || (e.col === prev.col && e.item && typeof prev.key === 'string');
        if (child) frames.push({ col: e.col, path: prev.path, seq: e.item, keys: new Map(), items: 0, opener: prev, start: i });
        else if (e.col === prev.col && !e.item && line !== prevLine) {
          const problem = explainEmptyBlock(lines, i, prev, frames);
          if (problem) return { problem, notes };
        }
      } else if (prev && prevLine && line !== prevLine && e.col > prev.col) {
        return { problem: tooDeep(lines, i, prev, frames.at(-1)!, step), notes };
      }
      let left: Frame | undefined; // the block this line has just left
      while (frames.length > 1 && frames.at(-1)!.col > e.col) left = frames.pop();
      let top = frames.at(-1)!;
      if (top.seq && !e.item && top.col === e.col && frames.length > 1) {
        frames.pop();
        top = frames.at(-1)!;
      }
      if (top.col !== e.col) return { problem: oddFirstKeys(lines, left, i, e.col, step) ?? betweenLevels(lines, i, e.col, prev, left?.opener, top), notes };
      let entry: Entry;
      if (e.item) {
        entry = { line, col: e.col, key: top.items++, opens: e.opens, path: [...top.path, top.items - 1] };
      } else {
        entry = { line, col: e.col, key: e.key!, opens: e.opens, path: [...top.path, e.key!] };
        const before = top.keys.get(e.key!);
        if (before) {
          notes.push({
            line: line.n,
            column: e.col + 1,
            path: entry.path,
            message: `is written twice in the same block (first on line ${before.line.n}); keep one`,
          });
        } else top.keys.set(e.key!, entry);
      }
      prev = entry;
      prevLine = line;
    }
  }
  return { notes };
}

/**
 * `opener` ("provider:") has nothing inside it: the line after it is at the same
 * column. Two readings explain the parser's errors: the keys after it were
 * meant inside it, and the key after them shows how far (case 1); or the opener
 * itself went one level too deep, and the keys after it repeat its parent's
 * (case 2). Anything else is valid YAML (an empty value), left to the schema.
 */
function explainEmptyBlock(lines: Line[], at: number, opener: Entry, frames: Frame[]): LayoutProblem | undefined {
  const start = lines[at]!;
  const end = runFrom(lines, at);
  const next = lines[end + 1];
  const last = lines[end]!;
  if (next !== undefined && (next.dash ?? next.col) > start.col && !last.opens) {
    // case 1: the keys of the block were written at the opener's column; the line after them shows where they belong
    const target = next.dash ?? next.col;
    const written = start.col;
    const moved = lines.slice(at, end + 1).filter((l) => (l.dash ?? l.col) === written);
    for (let j = at; j <= end; j++) shiftLine(lines[j]!, target - written);
    const others = moved.slice(1).map((l) => `${name(l)} on line ${l.n}`);
    const parent = typeof opener.key === 'string' ? opener.key : 'the item';
    return {
      line: start.n,
      column: written + 1,
      path: [...opener.path, start.key ?? 0],
      message:
        `is indented ${spaces(written)}, the same as "${parent}:" on line ${opener.line.n}, so it is not inside ${parent}` +
        `${others.length ? ` (nor ${others.length === 1 ? 'is' : 'are'} ${others.join(', ')})` : ''} and ${parent} is left empty; ` +
        `${name(next)} on line ${next.n} is indented ${spaces(target)}. Indent the keys inside ${parent} equally: ${spaces(target)}`,
    };
  }
  // case 2: the keys after the opener are keys its own block already has
  const block = frames.at(-1)!;
  const repeated = lines
    .slice(at, end + 1)
    .filter((l) => (l.dash ?? l.col) === start.col && l.key !== undefined && block.keys.has(l.key))
    .map((l) => l.key!);
  const parent = block.opener;
  if (repeated.length === 0 || parent === undefined || typeof opener.key !== 'string') return undefined;
  const openerLine = opener.line;
  shiftLine(openerLine, parent.col - opener.col);
  const parentName = typeof parent.key === 'string' ? `"${parent.key}:"` : 'the item above';
  return {
    line: openerLine.n,
    column: opener.col + 1,
    path: [...parent.path.slice(0, -1), opener.key],
    message:
      `is indented ${spaces(opener.col)}, like the keys inside ${parent.key} (line ${parent.line.n}), so it is read as a key of ${parent.key} with nothing inside it, ` +
      `and the lines after it as ${parent.key}'s own keys a second time (${repeated.join(', ')}). ` +
      `If "${opener.key}" is a block of its own next to ${parent.key}, indent "${opener.key}:" ${spaces(parent.col)}, like ${parentName} on line ${parent.line.n}`,
  };
}

/**
 * The keys of `block` before line `at` are indented unlike the file's usual step
 * under the block's key, and line `at` (at `col`) is indented like it: those first
 * keys are the ones to change.
 */
function oddFirstKeys(lines: Line[], block: Frame | undefined, at: number, col: number, step: number): LayoutProblem | undefined {
  const opener = block?.opener;
  if (block === undefined || opener === undefined || typeof opener.key !== 'string' || block.start >= at) return undefined;
  if (col - opener.col !== step || block.col - opener.col === step) return undefined;
  const first = lines[block.start]!;
  const line = lines[at]!;
  const written = first.dash ?? first.col;
  for (let j = block.start; j < at; j++) shiftLine(lines[j]!, col - written);
  return {
    line: first.n,
    column: written + 1,
    path: [...opener.path, first.key ?? 0],
    message:
      `is indented ${spaces(written)}, but the keys after it inside ${opener.key} are at ${spaces(col)} (${name(line)} on line ${line.n}). ` +
      `Indent the keys inside ${opener.key} equally: ${spaces(col)}`,
  };
}

/**
 * A line indented further than the key above it, which has a value on its own
 * line and so cannot contain anything. Usually that line is the one to change;
 * but when it sits at the file's usual step under the block's key and the keys
 * above it do not, those first keys are the odd ones out.
 */
function tooDeep(lines: Line[], at: number, above: Entry, block: Frame, step: number): LayoutProblem {
  const line = lines[at]!;
  const from = line.dash ?? line.col;
  const odd = oddFirstKeys(lines, block, at, from, step);
  if (odd) return odd;
  const end = runFrom(lines, at);
  for (let j = at; j <= end; j++) shiftLine(lines[j]!, above.col - from);
  const path = line.key !== undefined && line.dash === undefined ? [...above.path.slice(0, -1), line.key] : above.path.slice(0, -1);
  return {
    line: line.n,
    column: from + 1,
    path,
    message:
      `is indented ${spaces(from)}, more than ${name(above)} on line ${above.line.n} (${spaces(above.col)}), which has a value and so cannot have keys inside it. ` +
      `Indent the keys of one block equally: ${spaces(above.col)}, like ${name(above)}`,
  };
}

/** A line that lines up with no block above it (between two levels). */
function betweenLevels(lines: Line[], at: number, col: number, above: Entry | undefined, left: Entry | undefined, top: Frame): LayoutProblem {
  const line = lines[at]!;
  const end = runFrom(lines, at);
  const next = lines[end + 1];
  const nextCol = next ? (next.dash ?? next.col) : undefined;
  const deeper = above !== undefined && above.col > col ? above : undefined;
  const shallower = left !== undefined && left.col === top.col ? left : undefined;
  // the level the lines around it agree on: the one the next line uses, else the one above
  const target = nextCol !== undefined && (nextCol === deeper?.col || nextCol === top.col) ? nextCol : (deeper?.col ?? top.col);
  for (let j = at; j <= end; j++) shiftLine(lines[j]!, target - col);
  const levels = [deeper, shallower].filter((e): e is Entry => e !== undefined).map((e) => `${name(e)} on line ${e.line.n} is at ${spaces(e.col)}`);
  const inside = deeper !== undefined && target === deeper.col;
  const path = line.key !== undefined ? [...(inside ? deeper.path.slice(0, -1) : top.path), line.key] : top.path;
  return {
    line: line.n,
    column: col + 1,
    path,
    message: `is indented ${spaces(col)}, which lines up with no block above it${levels.length ? ` (${levels.join(', ')})` : ''}. Indent it ${spaces(target)}${inside ? `, like ${name(deeper)}` : shallower ? `, like ${name(shallower)}` : ''}`,
  };
}
