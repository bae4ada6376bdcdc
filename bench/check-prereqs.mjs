#!/usr/bin/env node
// Before any bench: is everything it starts installed? What is missing from
// Debian's packages is installed when this runs as root on a machine with
// apt-get (as .ci/run does for the tests), with services kept from starting:
// the bench starts its own nginx, Apache and Redis on loopback ports, and a
// packaged nginx or Apache would listen on port 80 of every interface. Anywhere
// else (or with GATEHOUSE_BENCH_NO_INSTALL=1) it prints the exact command and
// exits 1.
import { existsSync, writeFileSync, rmSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..');
const needs = process.argv.includes('--soak')
  ? [
      ['nginx', '/usr/sbin/nginx', 'nginx-light'],
      ['wrk', '/usr/bin/wrk', 'wrk'],
      ['taskset', '/usr/bin/taskset', 'util-linux'],
    ]
  : [
      ['nginx', '/usr/sbin/nginx', 'nginx-light'],
      ['apache2', '/usr/sbin/apache2', 'apache2'],
      ['mod_auth_openidc', '/usr/lib/apache2/modules/mod_auth_openidc.so', 'libapache2-mod-auth-openidc'],
      ['wrk', '/usr/bin/wrk', 'wrk'],
      ['redis-server', '/usr/bin/redis-server', 'redis-server'],
      ['taskset', '/usr/bin/taskset', 'util-linux'],
    ];
let missing = needs.filter(([, path]) => !existsSync(path));
const packages = () => [...new Set(missing.map(([, , pkg]) => pkg))];
const canInstall = process.getuid?.() === 0 && existsSync('/usr/bin/apt-get') && process.env.GATEHOUSE_BENCH_NO_INSTALL !== '1';
if (missing.length && canInstall) {
  process.stderr.write(`bench: installing ${packages().join(' ')} (apt-get)\n`);
  // Debian's way to keep a package's service from starting on install (exit 101: "action forbidden")
  const policy = '/usr/sbin/policy-rc.d';
  const ownPolicy = !existsSync(policy);
  if (ownPolicy) writeFileSync(policy, '#!/bin/sh\nexit 101\n', { mode: 0o755 });
  try {
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    spawnSync('apt-get', ['update'], { stdio: 'inherit', env });
    spawnSync('apt-get', ['install', '-y', '--no-install-recommends', ...packages()], { stdio: 'inherit', env });
  } finally {
    if (ownPolicy) rmSync(policy, { force: true });
  }
  missing = needs.filter(([, path]) => !existsSync(path));
}
const problems = [];
if (missing.length) {
  problems.push(`missing: ${missing.map(([name]) => name).join(', ')}\n  install with:\n    apt-get update && apt-get install -y ${packages().join(' ')}`);
}
if (!existsSync(join(repo, 'dist', 'cli.js'))) problems.push('dist/cli.js is missing: run `npm run build` (npm run bench does it first)');
if (!existsSync(join(repo, 'node_modules', 'undici'))) problems.push('node_modules is missing: run `npm ci`');
const cpus = spawnSync('nproc', { encoding: 'utf8' }).stdout.trim();
if (Number(cpus) < 2) problems.push(`the bench pins the load generator and the upstream to CPUs 0 and 1; this machine has ${cpus}`);
if (problems.length) {
  process.stderr.write(`bench prerequisites:\n${problems.map((p) => `- ${p}`).join('\n')}\n`);
  process.exit(1);
}
