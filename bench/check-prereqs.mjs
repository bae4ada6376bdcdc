#!/usr/bin/env node
// Before any bench: is everything it starts installed? Installs nothing; prints
// the exact command that would, and exits 1 when something is missing.
import { existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..');
const needs = process.argv.includes('--soak')
  ? [['nginx', '/usr/sbin/nginx', 'nginx-light'], ['wrk', '/usr/bin/wrk', 'wrk'], ['taskset', '/usr/bin/taskset', 'util-linux']]
  : [
      ['nginx', '/usr/sbin/nginx', 'nginx-light'],
      ['apache2', '/usr/sbin/apache2', 'apache2'],
      ['mod_auth_openidc', '/usr/lib/apache2/modules/mod_auth_openidc.so', 'libapache2-mod-auth-openidc'],
      ['wrk', '/usr/bin/wrk', 'wrk'],
      ['redis-server', '/usr/bin/redis-server', 'redis-server'],
      ['taskset', '/usr/bin/taskset', 'util-linux'],
    ];
const missing = needs.filter(([, path]) => !existsSync(path));
const problems = [];
if (missing.length) {
  problems.push(`missing: ${missing.map(([name]) => name).join(', ')}\n  install with:\n    apt-get update && apt-get install -y ${[...new Set(missing.map(([, , pkg]) => pkg))].join(' ')}`);
}
if (!existsSync(join(repo, 'dist', 'cli.js'))) problems.push('dist/cli.js is missing: run `npm run build` (npm run bench does it first)');
if (!existsSync(join(repo, 'node_modules', 'undici'))) problems.push('node_modules is missing: run `npm ci`');
const cpus = spawnSync('nproc', { encoding: 'utf8' }).stdout.trim();
if (Number(cpus) < 2) problems.push(`the bench pins the load generator and the upstream to CPUs 0 and 1; this machine has ${cpus}`);
if (problems.length) {
  process.stderr.write(`bench prerequisites:\n${problems.map((p) => `- ${p}`).join('\n')}\n`);
  process.exit(1);
}
