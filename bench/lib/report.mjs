// Turning measurements into the table of bench/RESULTS.md: medians of the
// rounds, ratios to direct and to mod_auth_openidc's best mode from the same
// run, and each target of issue 6 with its verdict.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';

export function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** The round whose rate is the median one (its latencies are reported with it). */
export function medianRun(runs) {
  const sorted = [...runs].sort((a, b) => a.rps - b.rps);
  return sorted[(sorted.length - 1) >> 1];
}

const fmt = {
  rps: (n) => (n === undefined ? '—' : Math.round(n).toLocaleString('en-US')),
  ms: (n) => (n === undefined ? '—' : n < 10 ? n.toFixed(2) : n.toFixed(1)),
  mb: (n) => (n ? (n / 1048576).toFixed(0) : '—'),
  ratio: (n) => (n === undefined || !Number.isFinite(n) ? '—' : `${n.toFixed(2)}×`),
};
export { fmt };

/**
 * rows: {name, runs[], expectStatus, rssBytes, note, failed?}
 */
export function summarize(rows) {
  return rows.map((row) => {
    if (!row.runs?.length) return { ...row, ok: false };
    const m = medianRun(row.runs);
    const unexpected = row.runs.reduce((s, r) => s + r.unexpected, 0);
    const non2xx = row.runs.reduce((s, r) => s + r.non2xx, 0);
    const socketErrors = row.runs.reduce((s, r) => s + r.socketErrors, 0);
    return {
      ...row,
      rps: median(row.runs.map((r) => r.rps)),
      cpuUs: median(row.runs.map((r) => r.cpuUsPerRequest)),
      p50: m.p50,
      p99: m.p99,
      max: m.max,
      non2xx,
      unexpected,
      socketErrors,
      ok: unexpected === 0,
    };
  });
}

export function mainTable(summary, { directRps, apacheBestRps }) {
  const lines = [
    '| what | req/s | ×direct | ×mod_auth_openidc best | CPU µs/req | p50 ms | p99 ms | max ms | non-2xx | peak RSS MB | measurement |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |',
  ];
  for (const r of summary) {
    if (r.error) {
      lines.push(`| ${r.name} | — | — | — | — | — | — | — | — | — | not measured: ${r.error} |`);
      continue;
    }
    const verdict = r.ok ? (r.expectStatus === 200 ? 'ok' : `ok (all ${r.expectStatus})`) : `**FAILED**: ${r.unexpected} responses not ${r.expectStatus}`;
    lines.push(
      `| ${r.name} | ${fmt.rps(r.rps)} | ${fmt.ratio(r.rps / directRps)} | ${fmt.ratio(apacheBestRps ? r.rps / apacheBestRps : undefined)} | ${r.cpuUs === undefined ? '—' : Math.round(r.cpuUs)} | ${fmt.ms(r.p50)} | ${fmt.ms(r.p99)} | ${fmt.ms(r.max)} | ${r.non2xx} | ${fmt.mb(r.rssBytes)} | ${verdict}${r.socketErrors ? `, ${r.socketErrors} socket errors` : ''} |`,
    );
  }
  return lines.join('\n');
}

/**
 * Every figure of the main table as a ratio to the same figure of direct (nginx
 * alone) and of mod_auth_openidc's best mode in the same run. For req/s higher
 * is better; for CPU, latency and memory lower is.
 */
export function ratioTable(summary, { direct, apacheBest }) {
  const pair = (value, ofDirect, ofApache) => {
    if (value === undefined || !Number.isFinite(value)) return '—';
    return `${fmt.ratio(ofDirect ? value / ofDirect : undefined)} / ${fmt.ratio(ofApache ? value / ofApache : undefined)}`;
  };
  const lines = ['| what | req/s | CPU µs/req | p50 | p99 | max | peak RSS |', '| --- | ---: | ---: | ---: | ---: | ---: | ---: |'];
  for (const r of summary) {
    if (r.error || !r.runs?.length) continue;
    lines.push(
      `| ${r.name} | ${pair(r.rps, direct?.rps, apacheBest?.rps)} | ${pair(r.cpuUs, direct?.cpuUs, apacheBest?.cpuUs)} | ${pair(r.p50, direct?.p50, apacheBest?.p50)} | ${pair(r.p99, direct?.p99, apacheBest?.p99)} | ${pair(r.max, direct?.max, apacheBest?.max)} | ${pair(r.rssBytes, direct?.rssBytes, apacheBest?.rssBytes)} |`,
    );
  }
  return lines.join('\n');
}

function tryRun(cmd, args) {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  return (r.stdout || r.stderr || '').trim() || 'unknown';
}

export function machine() {
  const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
  const model = /model name\s*:\s*(.*)/.exec(cpuinfo)?.[1] ?? os.cpus()[0]?.model ?? 'unknown';
  return {
    cpu: `${model}, ${os.cpus().length} CPUs online`,
    memory: `${(os.totalmem() / 2 ** 30).toFixed(1)} GiB`,
    kernel: `${os.type()} ${os.release()}`,
    loadavg: os
      .loadavg()
      .map((n) => n.toFixed(2))
      .join(' '),
  };
}

export function versions(repo) {
  return {
    node: process.version,
    gatehouse: `${JSON.parse(readFileSync(`${repo}/package.json`, 'utf8')).version} (git ${tryRun('git', ['-C', repo, 'rev-parse', '--short', 'HEAD'])}${spawnSync('git', ['-C', repo, 'status', '--porcelain', '--untracked-files=no', 'src'], { encoding: 'utf8' }).stdout.trim() ? ', uncommitted changes in src/' : ''})`,
    undici: JSON.parse(readFileSync(`${repo}/node_modules/undici/package.json`, 'utf8')).version,
    nginx: tryRun('/usr/sbin/nginx', ['-v']).replace('nginx version: ', ''),
    wrk: tryRun('dpkg-query', ['-W', '-f', '${Version}', 'wrk']),
  };
}
