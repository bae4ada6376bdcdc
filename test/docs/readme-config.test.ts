/**
 * The README's list of gateway.yaml keys is generated from the schema (via
 * docs/configuration.md); this fails while the README section differs from
 * what the schema produces now. Fix: `npm run sync-readme`.
 */
import { readFileSync } from 'node:fs';
import t from 'tap';
import { renderConfigurationDoc } from '../../src/config/emit-schema.js';
// @ts-expect-error -- a plain .mjs script without type declarations
import { currentSection, readmeSection, syncReadme, START, END } from '../../scripts/sync-readme.mjs';

const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');

t.test('the README configuration section is the generated one (run `npm run sync-readme`)', async (t) => {
  const section = currentSection(readme) as string | undefined;
  t.ok(section, `README.md has a ${START} ... ${END} section`);
  t.equal(section, readmeSection(renderConfigurationDoc()));
});

t.test('every key of the schema appears in the README', async (t) => {
  const keys = [...renderConfigurationDoc().matchAll(/^\| `([^`]+)` \|/gm)].map((m) => m[1]!);
  t.ok(keys.length > 40, 'the schema has its keys');
  for (const key of ['public_url', 'session.secret', 'realms.<name>.callback_path', 'realms.<name>.provider.issuer', 'cors.allowed_origins'])
    t.ok(keys.includes(key), key);
  const missing = keys.filter((key) => !readme.includes(`\`${key}\``));
  t.same(missing, [], 'no key is missing');
});

t.test('the sync script replaces only the section between the markers', async (t) => {
  const doc = '# Configuration reference\n\n<!-- generated -->\n\nIntro, see [the example](../gateway.yaml) and [errors](errors.md).\n\n| key |\n';
  const out = syncReadme(`before\n${START}\nold\n${END}\nafter\n`, doc) as string;
  t.ok(out.startsWith(`before\n${START}\n`));
  t.ok(out.endsWith(`${END}\nafter\n`));
  t.notMatch(out, 'old');
  t.notMatch(out, '# Configuration reference', 'the generated page title is dropped');
  t.match(out, '[errors](docs/errors.md)', 'links relative to docs/ still work from the root');
  t.match(out, '[the example](gateway.yaml)');
  t.throws(() => syncReadme('no markers', doc), /no <!-- config-keys:start -->/);
});
