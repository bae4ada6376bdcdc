// docs/errors.md and src/errors.ts stay in step: every code in the closed union
// has its own section in the operator documentation, with the status and the
// exact message a person sees, and the documentation names no code that does
// not exist.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import t from 'tap';
import { ERROR_CODES, type ErrorCode } from '../../src/errors.js';

const doc = readFileSync(resolve(import.meta.dirname, '../../docs/errors.md'), 'utf8');

/** `### GH_CODE` sections, each with its body up to the next heading. */
function sections(markdown: string): Map<string, string> {
  const out = new Map<string, string>();
  const parts = markdown.split(/^(?=#{1,3} )/m);
  for (const part of parts) {
    const heading = /^### (GH_[A-Z0-9_]+)\s*\n/.exec(part);
    if (heading) out.set(heading[1]!, part.slice(heading[0].length));
  }
  return out;
}

t.test('every error code is documented with its status and message', async (t) => {
  const documented = sections(doc);
  const codes = Object.keys(ERROR_CODES) as ErrorCode[];
  t.same(
    [...documented.keys()].filter((c) => !(c in ERROR_CODES)),
    [],
    'docs/errors.md documents no code that src/errors.ts lacks',
  );
  t.same(
    codes.filter((c) => !documented.has(c)),
    [],
    'src/errors.ts has no code that docs/errors.md lacks',
  );
  for (const code of codes) {
    const body = documented.get(code);
    if (!body) continue;
    const { status, message } = ERROR_CODES[code];
    t.match(body, new RegExp(`^- Status: ${status}\\b`, 'm'), `${code}: status ${status}`);
    t.ok(body.includes(`- Message: ${message}\n`), `${code}: the exact message`);
    t.match(body, /^- Meaning: \S/m, `${code}: what it means`);
    t.match(body, /^- What to do: \S/m, `${code}: what to do`);
  }
  const mentioned = new Set(doc.match(/\bGH_[A-Z0-9_]+[A-Z0-9]\b/g) ?? []);
  t.same(
    [...mentioned].filter((c) => !(c in ERROR_CODES) && c !== 'GH_ID_TOKEN'),
    [],
    'no code mentioned anywhere that does not exist',
  );
});
