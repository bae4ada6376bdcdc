// Where a Gatehouse cluster's memory goes: the primary's own resident set, and
// the workers' V8 heap by space, external memory and RSS, read from the
// gateway's own metrics (prom-client's process metrics, summed over the
// workers by the primary) — measured, not guessed.
import { readFileSync } from 'node:fs';
import { request } from 'undici';

function statusKb(pid, field) {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** The process itself, without its children: { rss, peak } in bytes. */
export function ownRss(pid) {
  return { rss: statusKb(pid, 'VmRSS'), peak: statusKb(pid, 'VmHWM') };
}

/** One scrape of /.gatehouse/metrics: the memory figures, summed over the workers. */
export async function scrapeMemory(baseUrl) {
  const res = await request(`${baseUrl}/.gatehouse/metrics`);
  const text = await res.body.text();
  if (res.statusCode !== 200) throw new Error(`metrics answered ${res.statusCode}`);
  const value = (name) => {
    const m = new RegExp(`^${name.replace(/[{}]/g, '\\$&')} (\\S+)$`, 'm').exec(text);
    return m ? Number(m[1]) : undefined;
  };
  const space = (kind, s) => value(`gatehouse_nodejs_heap_space_size_${kind}_bytes{space="${s}"}`);
  return {
    rss: value('gatehouse_process_resident_memory_bytes'),
    heapTotal: value('gatehouse_nodejs_heap_size_total_bytes'),
    heapUsed: value('gatehouse_nodejs_heap_size_used_bytes'),
    external: value('gatehouse_nodejs_external_memory_bytes'),
    newSpaceTotal: space('total', 'new'),
    newSpaceUsed: space('used', 'new'),
    oldSpaceTotal: space('total', 'old'),
    oldSpaceUsed: space('used', 'old'),
    codeSpaceTotal: space('total', 'code'),
    largeObjectTotal: space('total', 'large_object'),
  };
}
