#!/usr/bin/env node
// Regenerate the README images (docs/images/*.png: sign-in, helpdesk, signed-out,
// refused, sign-in-cancelled).
//
// They are taken by the browser tests themselves (test/e2e/sign-in-user.test.ts, sign-in-agent.test.ts,
// sign-out.test.ts, refused-account.test.ts, callback-outcomes.test.ts),
// with the same Chromium, flags and window size as every e2e run
// (test/helpers/browser.ts), so the pictures show what the tests just proved
// works. A plain `npm test` writes its screenshots to test-artifacts/ only;
// GATEHOUSE_README_IMAGES=1 makes the README shots also land in docs/images/.
//
//   npm run screenshots          (needs /usr/bin/chromium: apt-get install -y chromium)
import { spawnSync } from 'node:child_process';
import { statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const images = ['sign-in', 'helpdesk', 'signed-out', 'refused', 'sign-in-cancelled'].map((name) => join(root, 'docs', 'images', `${name}.png`));
const tests = ['sign-in-user', 'sign-in-agent', 'sign-out', 'refused-account', 'callback-outcomes'].map((name) => `test/e2e/${name}.test.ts`);
const mtime = (file) => {
  try {
    return statSync(file).mtimeMs;
  } catch {
    return 0;
  }
};
const before = images.map(mtime);

const run = spawnSync(join(root, 'node_modules', '.bin', 'tap'), tests, {
  cwd: root,
  stdio: 'inherit',
  env: { ...process.env, GATEHOUSE_README_IMAGES: '1' },
});
if (run.status !== 0) {
  console.error('screenshots: the browser test failed; docs/images was not (fully) updated');
  process.exit(run.status ?? 1);
}
const stale = images.filter((file, i) => mtime(file) <= before[i]);
if (stale.length) {
  console.error(`screenshots: not written: ${stale.join(', ')}`);
  process.exit(1);
}
for (const file of images) console.log(`wrote ${file.slice(root.length + 1)}`);
