#!/usr/bin/env node
// Copy the generated configuration reference (docs/configuration.md, itself
// generated from src/config/schema.ts by `npm run schema`) into README.md
// between the config-keys markers, so the README lists every gateway.yaml key
// and cannot drift from the schema. test/docs/readme-config.test.ts fails
// while the two differ.
//
//   npm run sync-readme          (runs `npm run schema` first)
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const START = '<!-- config-keys:start -->';
export const END = '<!-- config-keys:end -->';

/**
 * The README's section made from docs/configuration.md: its title and
 * "generated" comment are dropped (the README has its own heading), links
 * relative to docs/ are made relative to the repository root.
 */
export function readmeSection(configurationMd) {
  const lines = configurationMd.replace(/\r\n/g, '\n').split('\n');
  const body = lines.filter((line, i) => !(i < 4 && (line.startsWith('# ') || line.startsWith('<!--'))));
  while (body.length && body[0].trim() === '') body.shift();
  while (body.length && body[body.length - 1].trim() === '') body.pop();
  const text = body
    .join('\n')
    .replace(/\]\((?![a-z][a-z0-9+.-]*:|#|\/)(?:\.\/)?([^)]+)\)/gi, (_m, target) => `](${target.startsWith('../') ? target.slice(3) : `docs/${target}`})`);
  return [
    START,
    '<!-- Generated from docs/configuration.md (itself from src/config/schema.ts) by `npm run sync-readme`; do not edit by hand. -->',
    '',
    text,
    '',
    END,
  ].join('\n');
}

/** The README with its config-keys section replaced; throws when the markers are missing. */
export function syncReadme(readme, configurationMd) {
  const start = readme.indexOf(START);
  const end = readme.indexOf(END);
  if (start < 0 || end < start) throw new Error(`README.md has no ${START} ... ${END} section`);
  return readme.slice(0, start) + readmeSection(configurationMd) + readme.slice(end + END.length);
}

/** The section as it stands in the README (markers included), or undefined. */
export function currentSection(readme) {
  const start = readme.indexOf(START);
  const end = readme.indexOf(END);
  return start < 0 || end < start ? undefined : readme.slice(start, end + END.length);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const readmePath = fileURLToPath(new URL('../README.md', import.meta.url));
  const configPath = fileURLToPath(new URL('../docs/configuration.md', import.meta.url));
  const before = readFileSync(readmePath, 'utf8');
  const after = syncReadme(before, readFileSync(configPath, 'utf8'));
  if (after === before) {
    console.log('README.md configuration section is up to date');
  } else {
    writeFileSync(readmePath, after);
    console.log('README.md configuration section updated from docs/configuration.md');
  }
}
