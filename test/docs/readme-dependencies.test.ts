/**
 * The README says why each npm dependency is there; this fails when one is
 * added to package.json without a line in the README's Dependencies section
 * (or a line stays behind for one that was removed).
 */
import { readFileSync } from 'node:fs';
import t from 'tap';

const read = (path: string) => readFileSync(new URL(`../../${path}`, import.meta.url), 'utf8');
const pkg = JSON.parse(read('package.json')) as { dependencies?: Record<string, string>; devDependencies?: Record<string, string> };
const readme = read('README.md');

function dependencySection(): string {
  const start = readme.indexOf('\n## Dependencies\n');
  if (start < 0) return '';
  const end = readme.indexOf('\n## ', start + 1);
  return readme.slice(start, end < 0 ? undefined : end);
}

/** The package names a line is about: the backticked names before its first ": ". */
function namesPerLine(section: string): string[][] {
  return section
    .split('\n')
    .filter((line) => line.startsWith('- ') && line.includes(': '))
    .map((line) => [...line.slice(0, line.indexOf(': ')).matchAll(/`([^`]+)`/g)].map((m) => m[1]!));
}

t.test('every npm dependency has a line in the README saying why', async (t) => {
  const section = dependencySection();
  t.ok(section, 'README.md has a "## Dependencies" section');
  const declared = [...Object.keys(pkg.dependencies ?? {}), ...Object.keys(pkg.devDependencies ?? {})];
  const named = namesPerLine(section).flat();
  t.same(
    declared.filter((name) => !named.includes(name)),
    [],
    'no dependency without a reason',
  );
  t.same(
    named.filter((name) => !declared.includes(name)),
    [],
    'no line for a dependency that is gone',
  );
});
