// The nginx snippet is one file (docs/snippets/nginx-forward-auth.conf): the
// tests run it through a real nginx, and docs/forward-auth.md shows it. This
// keeps the page showing exactly that file, so the documented text is the tested one.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import t from 'tap';
import { SNIPPET } from './nginx-front.js';

const root = resolve(import.meta.dirname, '../..');

t.test('docs/forward-auth.md shows the nginx snippet the tests run, unchanged', async (t) => {
  const page = readFileSync(resolve(root, 'docs/forward-auth.md'), 'utf8');
  const blocks = [...page.matchAll(/```nginx\n([\s\S]*?)```/g)].map((m) => m[1]);
  t.same(blocks, [readFileSync(SNIPPET, 'utf8')], 'one nginx block, the file as it is');
});

t.test('the README points at forward-auth', async (t) => {
  const readme = readFileSync(resolve(root, 'README.md'), 'utf8');
  t.match(readme, /\(docs\/forward-auth\.md\)/);
});
