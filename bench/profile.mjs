#!/usr/bin/env node
// Where does a signed-in request's time go? Starts nginx, the provider and one
// Gatehouse process under `node --cpu-prof`, signs in, loads one row with wrk,
// stops Gatehouse (which writes the profile) and prints the functions and
// files with the most self time. The .cpuprofile is kept for a flame graph
// (open it in Chrome DevTools or speedscope).
//
//   node bench/profile.mjs [--row signed-in|unauth-api|unauth-nav|public|signin] [--duration 8] [--signins 600] [--out DIR]
// --row signin: sign-ins through the callback (lib/signin-bench.mjs), the provider's part prepared beforehand
import { mkdtempSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startNginx } from './lib/nginx.mjs';
import { runWrk } from './lib/wrk.mjs';
import { claimPort } from './lib/ports.mjs';
import { pinSelf } from './lib/procs.mjs';
import { startGatehouse, REPO, AGENT_CLIENT, USER_CLIENT, AGENT_CALLBACK, USER_CALLBACK } from './lib/gatehouse.mjs';
import { signIn } from './lib/browser.mjs';
import { measureSignIns } from './lib/signin-bench.mjs';

const args = process.argv.slice(2);
const opt = (name, fallback) => (args.includes(`--${name}`) ? args[args.indexOf(`--${name}`) + 1] : fallback);
const rowName = opt('row', 'signed-in');
const durationSec = Number(opt('duration', 8));
const dir = mkdtempSync(join(tmpdir(), 'gatehouse-profile-'));
const out = opt('out', join(dir, 'profiles'));
mkdirSync(out, { recursive: true });

const { DEMO_ACCOUNTS, startDemoProvider } = await import(join(REPO, 'dist', 'demo', 'provider.js'));
pinSelf('0');
const nginx = await startNginx({ dir, cpus: '1' });
const port = claimPort().port;
const gh = `http://127.0.0.1:${port}`;
const provider = await startDemoProvider({
  clients: [
    { ...AGENT_CLIENT, redirect_uris: [gh + AGENT_CALLBACK] },
    { ...USER_CLIENT, redirect_uris: [gh + USER_CALLBACK] },
  ],
  accounts: DEMO_ACCOUNTS,
});
const gatehouse = await startGatehouse({
  dir,
  cpus: '0-1',
  port,
  upstream: nginx.url,
  issuer: provider.issuer,
  workers: 1,
  nodeArgs: ['--cpu-prof', '--cpu-prof-dir', out],
});
// sign-ins: only the samples of the timed callbacks count (the preparation runs through the same process)
let window = null;
try {
  const s = await signIn(`${gh}/agent/tickets`, DEMO_ACCOUNTS[0]);
  const rows = {
    'signed-in': { url: `${gh}/agent/tickets`, headers: { cookie: s.jar.header(`${gh}/agent/tickets`) }, expectStatus: 200 },
    'unauth-api': { url: `${gh}/agent/api/tickets`, headers: { accept: 'application/json' }, expectStatus: 401 },
    'unauth-nav': { url: `${gh}/agent/tickets`, headers: { accept: 'text/html', 'sec-fetch-mode': 'navigate' }, expectStatus: 302 },
    public: { url: `${gh}/assets/app.js`, headers: {}, expectStatus: 200 },
  };
  if (rowName === 'signin') {
    const isSignedIn = (res) => res.status === 302 && [].concat(res.headers['set-cookie'] ?? []).some((l) => /gatehouse-agent=g1\./.test(l));
    const r = await measureSignIns({
      name: 'gatehouse',
      pid: gatehouse.pid,
      startUrl: `${gh}/agent/tickets`,
      callbackPrefix: gh + AGENT_CALLBACK,
      isSignedIn,
      providerOrigin: new URL(provider.issuer).origin,
      account: DEMO_ACCOUNTS[0],
      attempts: Number(opt('signins', 600)),
      concurrency: 16,
    });
    window = r.windowUs;
    process.stdout.write(
      `signin: ${r.perSecond.toFixed(0)} /s, p50 ${r.p50.toFixed(1)} ms, p99 ${r.p99.toFixed(1)} ms, failed ${r.attempts - r.ok}, Gatehouse CPU ${r.cpuMsPerSignIn.toFixed(2)} ms per sign-in\n`,
    );
  } else {
    const row = rows[rowName];
    const r = await runWrk({ dir, cpus: '0', connections: 32, durationSec, ...row });
    process.stdout.write(`${rowName}: ${Math.round(r.rps)} req/s, p99 ${r.p99} ms, unexpected ${r.unexpected}\n`);
  }
} finally {
  await gatehouse.stop();
  await provider.close();
  await nginx.stop();
}

const file = readdirSync(out)
  .filter((f) => f.endsWith('.cpuprofile'))
  .map((f) => join(out, f))[0];
const profile = JSON.parse(readFileSync(file, 'utf8'));
const self = new Map();
const byFile = new Map();
const dt = new Map();
let at = profile.startTime;
for (let i = 0; i < profile.samples.length; i++) {
  at += profile.timeDeltas[i] ?? 0;
  if (window && (at < window[0] || at > window[1])) continue;
  dt.set(profile.samples[i], (dt.get(profile.samples[i]) ?? 0) + (profile.timeDeltas[i] ?? 0));
}
let total = 0;
for (const node of profile.nodes) {
  const t = dt.get(node.id) ?? 0;
  total += t;
  const cf = node.callFrame;
  const where = cf.url ? cf.url.replace(/^file:\/\//, '').replace(`${REPO}/`, '') : '(native)';
  const key = `${cf.functionName || '(anonymous)'}  ${where}:${cf.lineNumber + 1}`;
  self.set(key, (self.get(key) ?? 0) + t);
  const fileKey = where.replace(/node_modules\/([^/]+)\/.*/, 'node_modules/$1').replace(/^node:.*/, 'node: internals');
  byFile.set(fileKey, (byFile.get(fileKey) ?? 0) + t);
}
// inclusive time of the gateway's own functions (self + everything they call)
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const inclusive = new Map();
const totalOf = (node) => (node.children ?? []).reduce((sum, id) => sum + totalOf(byId.get(id)), dt.get(node.id) ?? 0);
for (const node of profile.nodes) {
  const cf = node.callFrame;
  if (!cf.url.includes('/dist/') || !cf.functionName) continue;
  const key = `${cf.functionName}  ${cf.url.replace(/^file:\/\//, '').replace(`${REPO}/`, '')}:${cf.lineNumber + 1}`;
  inclusive.set(key, (inclusive.get(key) ?? 0) + totalOf(node));
}
// --all: inclusive time of every function (node's own too), each sample counted once per function on its stack
if (args.includes('--all')) {
  const parentOf = new Map();
  for (const node of profile.nodes) for (const c of node.children ?? []) parentOf.set(c, node.id);
  inclusive.clear();
  for (const [id, t] of dt) {
    if (byId.get(id).callFrame.functionName === '(idle)') continue;
    const seen = new Set();
    for (let cur = id; cur !== undefined; cur = parentOf.get(cur)) {
      const cf = byId.get(cur).callFrame;
      const key = `${cf.functionName || '(anonymous)'}  ${cf.url.replace(/^file:\/\//, '').replace(`${REPO}/`, '')}:${cf.lineNumber + 1}`;
      if (seen.has(key)) continue;
      seen.add(key);
      inclusive.set(key, (inclusive.get(key) ?? 0) + t);
    }
  }
}
const top = (map, n) =>
  [...map.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([k, v]) => `${((v / total) * 100).toFixed(1).padStart(5)}%  ${k}`)
    .join('\n');
process.stdout.write(
  `\nself time by file/package:\n${top(byFile, 20)}\n\nself time by function:\n${top(self, 35)}\n\ninclusive time of Gatehouse functions (nested calls of the same function counted again):\n${top(inclusive, args.includes('--all') ? 60 : 30)}\n\nprofile: ${file}\n`,
);
if (!args.includes('--out')) rmSync(join(dir, 'nginx'), { recursive: true, force: true });
