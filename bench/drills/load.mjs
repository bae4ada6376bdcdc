// The drills' load generator: steady clients on keep-alive connections, each
// recording every request it sends — when, what came back (status, Connection:
// close, Location), or how it failed (reset, refused, timeout) — not only totals.
import { Pool } from 'undici';

const now = () => performance.now();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** What went wrong with a request, in the drills' words. */
export function classify(error) {
  const code = error?.code ?? error?.cause?.code ?? '';
  if (code === 'ECONNREFUSED') return 'refused';
  if (code === 'ECONNRESET' || code === 'EPIPE' || code === 'UND_ERR_SOCKET') return 'reset';
  if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT' || code === 'UND_ERR_CONNECT_TIMEOUT') return 'timeout';
  return code || error?.message || 'error';
}

/**
 * `connections` clients, each sending its next request when the last is answered
 * (after `paceMs`), until stop() or `maxRequests` in all. make(i) → {path, headers}.
 * With stopOnRefused, a client stops once the listener refuses it (after SIGTERM).
 */
export function startLoad({ origin, connections, make, paceMs = 0, maxRequests = 1_000_000, headersTimeout = 15_000, stopOnRefused = false, label = 'drill' }) {
  const pool = new Pool(origin, { connections, pipelining: 1, headersTimeout, bodyTimeout: headersTimeout });
  const records = [];
  let stopped = false;
  let sent = 0;
  const listeners = new Set();
  const client = async () => {
    while (!stopped && sent < maxRequests) {
      const i = sent++;
      const { path, headers = {}, method = 'GET' } = make(i);
      const r = { i, id: `${label}-${i}`, sentAt: now() };
      records.push(r);
      try {
        const res = await pool.request({ path, method, headers: { ...headers, 'x-request-id': r.id } });
        await res.body.dump();
        r.status = res.statusCode;
        r.close = /close/i.test(String(res.headers.connection ?? ''));
        if (typeof res.headers.location === 'string') r.location = res.headers.location;
      } catch (error) {
        r.error = classify(error);
      }
      r.doneAt = now();
      for (const listener of listeners) listener(r);
      if (r.error === 'refused' && stopOnRefused) return;
      if (paceMs) await sleep(paceMs);
    }
  };
  const clients = Array.from({ length: connections }, client);
  const done = Promise.all(clients);
  return {
    records,
    done,
    /** resolves when `n` requests have been answered (an event, not a sleep) */
    answered(n) {
      return new Promise((resolve) => {
        let count = records.filter((r) => r.status !== undefined).length;
        if (count >= n) return resolve();
        const listener = (r) => {
          if (r.status !== undefined && ++count >= n) {
            listeners.delete(listener);
            resolve();
          }
        };
        listeners.add(listener);
      });
    },
    async stop() {
      stopped = true;
      await done;
      await pool.destroy();
      return records;
    },
  };
}

function percentile(sorted, p) {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))] : 0;
}

/** Counts over a list of records; `ok(r)` says which answers are the expected ones. */
export function countsOf(records, ok = (r) => r.status === 200) {
  const byStatus = {};
  const errors = {};
  for (const r of records) {
    if (r.status !== undefined) byStatus[r.status] = (byStatus[r.status] ?? 0) + 1;
    else if (r.error) errors[r.error] = (errors[r.error] ?? 0) + 1;
  }
  const latencies = records
    .filter((r) => r.doneAt !== undefined && r.status !== undefined)
    .map((r) => r.doneAt - r.sentAt)
    .sort((a, b) => a - b);
  const failures = {};
  for (const r of records) {
    if (ok(r)) continue;
    const key = r.status !== undefined ? String(r.status) : r.error;
    failures[key] = (failures[key] ?? 0) + 1;
  }
  return {
    requests: records.length,
    byStatus,
    failures,
    resets: errors.reset ?? 0,
    refused: errors.refused ?? 0,
    timeouts: errors.timeout ?? 0,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    max: latencies.at(-1) ?? 0,
  };
}

/**
 * Seconds from `restoredAt` until answers are good again for good: the answer to
 * the first request sent after it that no failure follows. null: never recovered.
 */
export function recoverySeconds(records, restoredAt, ok = (r) => r.status === 200) {
  const after = records.filter((r) => r.sentAt >= restoredAt && r.doneAt !== undefined).sort((a, b) => a.sentAt - b.sentAt);
  let lastBad = -1;
  after.forEach((r, k) => {
    if (!ok(r)) lastBad = k;
  });
  if (after.length === 0 || lastBad === after.length - 1) return null;
  return Math.max(0, (after[lastBad + 1].doneAt - restoredAt) / 1000);
}
