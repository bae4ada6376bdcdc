/**
 * Failed sign-in callbacks per client address, for the rate limit
 * (limits.failed_callbacks_per_minute). The check is synchronous: it runs before
 * each callback. With several workers the counts are the primary's (summed over
 * every worker), mirrored into each worker (src/cluster/worker.ts).
 */
export interface FailedCallbacks {
  /** Has this address failed `limit` times or more in its current minute? */
  isLimited(ip: string, limit: number, now: number): boolean;
  /** resolves when every worker would see the new count (the cluster's); the memory one is done at once */
  count(ip: string, now: number): void | Promise<void>;
}

const WINDOW_MS = 60_000;
const MAX_ADDRESSES = 10_000;

export class MemoryFailedCallbacks implements FailedCallbacks {
  private readonly counts = new Map<string, { count: number; resetAt: number }>();

  isLimited(ip: string, limit: number, now: number): boolean {
    const entry = this.counts.get(ip);
    return entry !== undefined && entry.resetAt > now && entry.count >= limit;
  }

  count(ip: string, now: number): void {
    const entry = this.counts.get(ip);
    if (!entry || entry.resetAt <= now) this.set(ip, 1, now + WINDOW_MS, now);
    else entry.count++;
  }

  /** Also used by the cluster mirror to take the primary's count. */
  set(ip: string, count: number, resetAt: number, now: number): void {
    if (this.counts.size > MAX_ADDRESSES) for (const [key, e] of this.counts) if (e.resetAt <= now) this.counts.delete(key);
    this.counts.set(ip, { count, resetAt });
  }

  get(ip: string): { count: number; resetAt: number } | undefined {
    return this.counts.get(ip);
  }
}
