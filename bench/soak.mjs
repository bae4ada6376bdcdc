#!/usr/bin/env node
// npm run bench:soak — 1,000,000 signed-in requests over 10,000 distinct
// sessions through Gatehouse (cookie store). Passes when the gateway's RSS after
// the last request is within 10% of its RSS after the first 100,000, no request
// got anything but 200, and the CPU cost of a request is the same with 10,000
// live sessions as with one.
//
// Sessions: one real sign-in at the in-process provider; the other 9,999 are
// that session sealed again (codec.ts seal, the gateway's own secret) with a new
// id and subject — what 10,000 sign-ins would leave in browsers, without
// spending minutes in the provider's login pages. wrk replays cookies and
// ignores Set-Cookie; browsers keep the re-sealed cookie the gateway hands out
// once a touch interval (session "last seen"; 24 s here, see IDLE_TIMEOUT). So between segments of at most 50,000
// requests, once a touch interval has passed, the soak sends one request per
// session as its browser would and keeps the cookie the gateway answers with.
//
// V8 grows its old generation lazily: left alone, RSS climbs for minutes with
// no live data added (measured: heap used 77 -> 157 MB over 500,000 requests,
// flat at 71-89 MB under a cap). Gatehouse runs here as docs/performance.md
// advises for production, with a heap cap per worker (--max-old-space MB).
//
// Options: --workers N (2) --sessions N (10000) --requests N (1000000) --connections N (32)
//          --max-old-space MB (256, 0 = none) --out FILE (bench/SOAK.md)
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startNginx } from './lib/nginx.mjs';
import { runWrk } from './lib/wrk.mjs';
import { claimPort } from './lib/ports.mjs';
import { pinSelf, currentRss, peakRss, cpuSeconds } from './lib/procs.mjs';
import { startGatehouse, REPO, AGENT_CLIENT, USER_CLIENT, AGENT_CALLBACK, USER_CALLBACK } from './lib/gatehouse.mjs';
import { signIn } from './lib/browser.mjs';
import { Pool } from 'undici';
import { machine, versions } from './lib/report.mjs';
import { scrapeMemory } from './lib/memory.mjs';
import { execFile } from 'node:child_process';

const args = process.argv.slice(2);
const opt = (name, fallback) => (args.includes(`--${name}`) ? args[args.indexOf(`--${name}`) + 1] : fallback);
const settings = {
  workers: Number(opt('workers', 2)),
  sessions: Number(opt('sessions', 10_000)),
  requests: Number(opt('requests', 1_000_000)),
  connections: Number(opt('connections', 32)),
  out: opt('out', join(REPO, 'bench', 'SOAK.md')),
  maxOldSpaceMb: Number(opt('max-old-space', 256)),
  // more V8 flags for every Gatehouse process, e.g. --node-args=--heap-growing-percent=25
  nodeArgs: (args.find((a) => a.startsWith('--node-args='))?.slice('--node-args='.length) ?? '').split(' ').filter(Boolean),
};
const SEGMENT = 100_000;
// idle_timeout 4m: "last seen" is re-sealed every 24 s (a tenth of it), so the million requests span
// several touch rounds, each re-sealing every session at once — the heaviest churn the cache sees.
// (With the default 2 h the interval is 60 s, longer than the whole soak takes.)
const IDLE_TIMEOUT = '4m';
const TOUCH_INTERVAL_MS = 24_000;
const ADOPT_AFTER_MS = TOUCH_INTERVAL_MS + 1000;

const { DEMO_ACCOUNTS, startDemoProvider } = await import(join(REPO, 'dist', 'demo', 'provider.js'));
const { deriveSealKeys, open, seal } = await import(join(REPO, 'dist', 'session', 'codec.js'));
const { newSessionId } = await import(join(REPO, 'dist', 'session', 'session.js'));
const log = (line) => process.stderr.write(`[soak] ${line}\n`);
const mb = (bytes) => (bytes / 1048576).toFixed(1);

const dir = mkdtempSync(join(tmpdir(), 'gatehouse-soak-'));
const stoppers = [];
const stopAll = async () => {
  for (const stop of stoppers.reverse()) await stop().catch(() => {});
  stoppers.length = 0;
};
process.on('SIGINT', () => stopAll().finally(() => process.exit(130)));

async function main() {
  pinSelf('0');
  const machineBefore = machine();
  const nginx = await startNginx({ dir, cpus: '1' });
  stoppers.push(nginx.stop);
  const port = claimPort().port;
  const gh = `http://127.0.0.1:${port}`;
  const provider = await startDemoProvider({
    clients: [
      { ...AGENT_CLIENT, redirect_uris: [gh + AGENT_CALLBACK] },
      { ...USER_CLIENT, redirect_uris: [gh + USER_CALLBACK] },
    ],
    accounts: DEMO_ACCOUNTS,
  });
  stoppers.push(() => provider.close());
  const nodeArgs = [...(settings.maxOldSpaceMb ? [`--max-old-space-size=${settings.maxOldSpaceMb}`] : []), ...settings.nodeArgs];
  const gatehouse = await startGatehouse({
    dir,
    cpus: '0-1',
    port,
    upstream: nginx.url,
    issuer: provider.issuer,
    workers: settings.workers,
    idleTimeout: IDLE_TIMEOUT,
    nodeArgs,
  });
  stoppers.push(gatehouse.stop);

  // one real sign-in; its session is the template of the others
  const flow = await signIn(`${gh}/agent/tickets`, DEMO_ACCOUNTS[0]);
  if (flow.res.status !== 200) throw new Error(`sign-in ended with ${flow.res.status}`);
  const cookieName = flow.jar.cookies.find((c) => c.name.endsWith('gatehouse-agent')).name;
  const realCookie = flow.jar.cookies.find((c) => c.name === cookieName).value;
  const keys = deriveSealKeys([gatehouse.secret], 'session:agent');
  const template = await open(realCookie, keys);
  if (!template) throw new Error('the soak cannot open the session it signed in with (secret or codec changed?)');
  const identities = Array.from({ length: settings.sessions }, (_, i) =>
    i === 0 ? template : { ...template, id: newSessionId(), sub: `soak-user-${i}`, email: `soak-user-${i}@example.com`, name: `Soak User ${i}` },
  );
  const cookiesFile = join(dir, 'cookies.txt');
  const cookies = [];
  for (const s of identities) cookies.push(`${cookieName}=${await seal({ ...s, seenAt: Date.now() }, keys)}`);
  const writeCookies = () => writeFileSync(cookiesFile, `${cookies.join('\n')}\n`);
  writeCookies();
  // as each session's browser: one request, and the re-sealed cookie kept when the gateway hands one out
  const browser = new Pool(gh, { connections: 16 });
  stoppers.push(() => browser.close());
  let adoptedAt = Date.now();
  let touchRounds = 0;
  async function adoptTouchedCookies() {
    let next = 0;
    let renewed = 0;
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (next < cookies.length) {
          const i = next++;
          const res = await browser.request({ path: '/agent/tickets', method: 'GET', headers: { cookie: cookies[i], accept: 'application/json' } });
          await res.body.dump();
          if (res.statusCode !== 200) throw new Error(`session ${i} answered ${res.statusCode} while adopting cookies`);
          const line = [].concat(res.headers['set-cookie'] ?? []).find((l) => l.startsWith(`${cookieName}=`));
          if (line) {
            cookies[i] = line.split(';')[0];
            renewed++;
          }
        }
      }),
    );
    writeCookies();
    adoptedAt = Date.now();
    if (renewed > 0) touchRounds++;
    return renewed;
  }
  log(`${settings.sessions} sessions sealed; gateway RSS ${mb(currentRss(gatehouse.pid))} MB`);

  // wrk runs for a time, not a count: each segment lasts what the last rate says ~100,000 requests take
  const wrkBase = { dir, cpus: '0', url: `${gh}/agent/tickets`, connections: settings.connections, cookiesFile };
  const secondsFor = (n, rps) => Math.max(1, Math.min(done < SEGMENT ? 5 : 30, Math.round(n / rps)));
  // memory with one cached session, then with all of them: what the cache adds per session (heap not
  // collected in between, so garbage counts too: an upper bound; bench/session-memory.mjs measures after a full GC)
  const firstFile = join(dir, 'first.txt');
  writeFileSync(firstFile, `${cookies[0]}\n`);
  await runWrk({ ...wrkBase, cookiesFile: firstFile, durationSec: 4 });
  const withOne = { rss: currentRss(gatehouse.pid), ...(await scrapeMemory(gh).catch(() => ({}))) };
  // warm-up, not counted: every session opened once by each worker, then a rate to size the segments with
  await runWrk({ ...wrkBase, durationSec: 4 });
  let lastRps = (await runWrk({ ...wrkBase, durationSec: 2 })).rps;
  const withAll = { rss: currentRss(gatehouse.pid), ...(await scrapeMemory(gh).catch(() => ({}))) };
  log(`memory with one session ${JSON.stringify(withOne)}, with ${settings.sessions}: ${JSON.stringify(withAll)}`);
  let done = 0;
  let unexpected = 0;
  let socketErrors = 0;
  const statuses = {};
  const segments = [];
  let rssAfterFirst = 0;
  const cpuStart = cpuSeconds(gatehouse.pid);
  const started = Date.now();
  while (done < settings.requests) {
    if (Date.now() - adoptedAt > ADOPT_AFTER_MS)
      log(`touch interval passed: ${await adoptTouchedCookies()} of ${cookies.length} cookies re-sealed by the gateway and kept`);
    // the first segment ends at about 100,000 requests: the reference RSS is taken there
    const want = Math.min(done < SEGMENT ? Math.max(5000, (SEGMENT - done) / 2) : SEGMENT / 2, settings.requests - done);
    const cpu0 = cpuSeconds(gatehouse.pid);
    const r = await runWrk({ ...wrkBase, durationSec: secondsFor(want, lastRps) });
    lastRps = r.rps;
    done += r.requests;
    unexpected += r.unexpected;
    socketErrors += r.socketErrors;
    for (const [k, v] of Object.entries(r.unexpectedStatuses)) statuses[k] = (statuses[k] ?? 0) + v;
    const rss = currentRss(gatehouse.pid);
    const cpuUs = ((cpuSeconds(gatehouse.pid) - cpu0) * 1e6) / r.requests;
    segments.push({ done, rps: r.rps, p99: r.p99, rss, cpuUs, unexpected: r.unexpected });
    if (!rssAfterFirst && done >= SEGMENT * 0.95) rssAfterFirst = rss;
    log(
      `${done.toLocaleString('en-US')} requests: ${Math.round(r.rps)} req/s, ${Math.round(cpuUs)} CPU µs/req, p99 ${r.p99} ms, RSS ${mb(rss)} MB${r.unexpected ? `, ${r.unexpected} unexpected ${JSON.stringify(r.unexpectedStatuses)}` : ''}`,
    );
  }
  const totalSeconds = (Date.now() - started) / 1000;
  const roundsDuringSoak = touchRounds;
  const cpuTotalUs = ((cpuSeconds(gatehouse.pid) - cpuStart) * 1e6) / done;
  const rssAfter = currentRss(gatehouse.pid);

  // does a request cost more with 10,000 live sessions than with one? (the same warm cache for both)
  // Measured between touch rounds: every cookie sealed again now, as a touch would, and opened by both
  // workers in the first run, so no re-seal falls into the measured runs (~20 s, under the interval).
  for (let i = 0; i < cookies.length; i++) cookies[i] = `${cookieName}=${await seal({ ...identities[i], seenAt: Date.now() }, keys)}`;
  writeCookies();
  const oneFile = join(dir, 'one.txt');
  writeFileSync(oneFile, `${cookies[0]}\n`);
  const costOf = async (file) => {
    const c0 = cpuSeconds(gatehouse.pid);
    const r = await runWrk({ ...wrkBase, cookiesFile: file, durationSec: 4 });
    return { rps: r.rps, cpuUs: ((cpuSeconds(gatehouse.pid) - c0) * 1e6) / r.requests, unexpected: r.unexpected };
  };
  await costOf(cookiesFile); // every session warm in both workers
  const runsMany = [await costOf(cookiesFile)];
  const runsOne = [await costOf(oneFile)];
  runsMany.push(await costOf(cookiesFile));
  runsOne.push(await costOf(oneFile));
  const cheaper = (runs) => runs.reduce((a, b) => (a.cpuUs <= b.cpuUs ? a : b));
  const many = cheaper(runsMany);
  const one = cheaper(runsOne);
  const peak = peakRss(gatehouse.pid);
  const machineAfter = machine();
  await stopAll();

  // the exact figure: one gateway in-process, its heap after a full GC with none and with every session cached
  const exact = await new Promise((resolve) => {
    execFile(
      'taskset',
      ['-c', '1', process.execPath, '--expose-gc', join(REPO, 'bench', 'session-memory.mjs'), '--sessions', String(settings.sessions)],
      { maxBuffer: 1 << 20, timeout: 300_000 },
      (error, stdout) => {
        const line = stdout.split('\n').find((l) => l.startsWith('SESSION_MEMORY_JSON '));
        resolve(line ? JSON.parse(line.slice('SESSION_MEMORY_JSON '.length)) : { error: (error?.message ?? 'no result').split('\n')[0] });
      },
    );
  });
  const perWorker = (a, b) => (a === undefined || b === undefined ? undefined : (b - a) / settings.sessions / settings.workers);
  const live = {
    rss: perWorker(withOne.rss, withAll.rss),
    heapUsed: perWorker(withOne.heapUsed, withAll.heapUsed),
    heapTotal: perWorker(withOne.heapTotal, withAll.heapTotal),
  };
  const kb = (bytes) => (bytes === undefined ? '—' : `${(bytes / 1024).toFixed(2)} KB`);
  const growth = rssAfter / rssAfterFirst - 1;
  const costGrowth = many.cpuUs / one.cpuUs - 1;
  const checks = [
    [
      `RSS after ${done.toLocaleString('en-US')} requests within 10% of RSS after the first ${segments.find((x) => x.rss === rssAfterFirst)?.done.toLocaleString('en-US')}`,
      `${mb(rssAfter)} MB vs ${mb(rssAfterFirst)} MB (${(growth * 100).toFixed(1)}%)`,
      Math.abs(growth) <= 0.1,
    ],
    [
      'every response 200 (no redirect, 401, 5xx), no socket error',
      `${unexpected} unexpected ${JSON.stringify(statuses)}, ${socketErrors} socket errors`,
      unexpected === 0 && socketErrors === 0,
    ],
    [
      `CPU per request with ${settings.sessions.toLocaleString('en-US')} live sessions within 10% of one session (lower of two runs each)`,
      `${many.cpuUs.toFixed(0)} µs vs ${one.cpuUs.toFixed(0)} µs (${(costGrowth * 100).toFixed(1)}%)`,
      costGrowth <= 0.1 && many.unexpected === 0 && one.unexpected === 0,
    ],
  ];
  const ok = checks.every(([, , pass]) => pass);
  const v = versions(REPO);
  const report = `# Gatehouse soak results

Written by \`npm run bench:soak\` (bench/soak.mjs) on ${new Date().toISOString()}: ${ok ? '**passed**' : '**FAILED**'}.

- ${done.toLocaleString('en-US')} signed-in requests over ${settings.sessions.toLocaleString('en-US')} distinct sessions (cookie store, ${settings.workers} worker(s), ${settings.maxOldSpaceMb ? `\`--max-old-space-size=${settings.maxOldSpaceMb}\` per process` : 'no heap cap'}), wrk ${v.wrk} with ${settings.connections} connections, the sessions taken in turn; \`idle_timeout: ${IDLE_TIMEOUT}\`, so the gateway re-sealed every session's cookie every ${TOUCH_INTERVAL_MS / 1000} s (${roundsDuringSoak} touch round(s) during the run, each adopted by the soak as browsers would); ${totalSeconds.toFixed(0)} s, ${Math.round(done / totalSeconds).toLocaleString('en-US')} req/s on average, ${cpuTotalUs.toFixed(0)} CPU µs per request.
- Machine: ${machineBefore.cpu}, ${machineBefore.memory}; load average before ${machineBefore.loadavg}, after ${machineAfter.loadavg}. Node ${v.node}, Gatehouse ${v.gatehouse}.
- Pinning as in bench/run.mjs: wrk on CPU 0, nginx on CPU 1, Gatehouse on CPUs 0-1. RSS is VmRSS summed over the cluster primary and its workers; peak (VmHWM) over the whole soak ${mb(peak)} MB.

| check | measured | verdict |
| --- | --- | --- |
${checks.map(([what, value, pass]) => `| ${what} | ${value} | ${pass ? 'passed' : '**failed**'} |`).join('\n')}

## Memory per cached session (issue 18: ≤ 2 KB)
| measured | per cached session | verdict |
| --- | ---: | --- |
| in-process, V8 heap after a full GC, ${settings.sessions.toLocaleString('en-US')} sessions through the request path (bench/session-memory.mjs) | ${exact.error ? `not measured: ${exact.error}` : kb(exact.perSessionBytes)} | ${exact.error ? '—' : exact.perSessionBytes <= 2048 ? '**met**' : '**not met**'} |
| this soak's cluster, ${settings.sessions.toLocaleString('en-US')} sessions vs one, per worker: heap used (garbage not collected: an upper bound) | ${kb(live.heapUsed)} | |
| the same: heap reserved by V8 | ${kb(live.heapTotal)} | |
| the same: RSS | ${kb(live.rss)} | |

${
  exact.error
    ? ''
    : `Where a cached session's bytes go (in-process; each part dropped from every entry in turn, heap measured after a full GC; the cookie value is ${Math.round(exact.cookieChars)} characters):

| part | bytes per session |
| --- | ---: |
${exact.parts.map((p) => `| ${p.part} | ${Math.round(p.bytes)} |`).join('\n')}

Each session's cookie value is kept once: the cache is keyed by it, and keyed by a digest instead the session index would still have to keep it, to hand an older value of the session that exact successor (docs/performance.md, "Memory per cached session"). With the cookie store that is most of an entry, and the floor of this design. The ID token and claims are not kept in the entry (they are read from the cookie again when a session is written back).`
}

| requests done | req/s | CPU µs/req | p99 ms | RSS MB |
| ---: | ---: | ---: | ---: | ---: |
${segments.map((s) => `| ${s.done.toLocaleString('en-US')} | ${Math.round(s.rps).toLocaleString('en-US')} | ${s.cpuUs.toFixed(0)} | ${s.p99.toFixed(1)} | ${mb(s.rss)} |`).join('\n')}
`;
  process.stdout.write(report);
  writeFileSync(settings.out, report);
  if (!ok) process.exitCode = 1;
}

main()
  .catch((error) => {
    process.stderr.write(`soak failed: ${error.stack ?? error}\n`);
    process.exitCode = 1;
  })
  .finally(async () => {
    await stopAll();
    rmSync(dir, { recursive: true, force: true });
  });
