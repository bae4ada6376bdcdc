/**
 * What a cluster worker shares with the other workers of its gateway, through
 * the primary (src/cluster/hub.ts), when there is no Redis: the revocation
 * list, spent states, refresh locks, failed-callback counts, and one metrics
 * scrape for the whole gateway. Implements the same interfaces as the memory and
 * Redis versions, so the request path does not know which it has.
 *
 * Checks that run on every request stay synchronous and in memory: each worker
 * keeps the whole revocation list (loaded at start, then applied as the primary
 * sends each entry, before the revoking request is answered) and a mirror of the
 * failed-callback counts.
 */
import { GatehouseError } from '../errors.js';
import type { Metrics } from '../observe/metrics.js';
import { MemoryRevocationList, type Revocation, type RevocationList } from '../session/revocation.js';
import type { SpentStates } from '../session/login-attempt.js';
import type { RefreshCoordination } from '../session/refresh.js';
import { MemoryFailedCallbacks, type FailedCallbacks } from '../session/failed-callbacks.js';
import type { PrimaryLink } from './link.js';
import type { CallbackCount, HelloAnswer } from './messages.js';

export class ClusterRevocationList implements RevocationList {
  private readonly memory: MemoryRevocationList;

  constructor(
    private readonly link: PrimaryLink,
    now: () => number = Date.now,
  ) {
    this.memory = new MemoryRevocationList(now);
    link.answer('apply-revocation', (request) => {
      if (request.kind === 'apply-revocation') this.memory.apply(request.entry);
      return null;
    });
  }

  load(entries: readonly Revocation[]): void {
    for (const entry of entries) this.memory.apply(entry);
  }

  /** In force here at once; resolves when every other worker has it too. */
  async revoke(entry: Revocation): Promise<void> {
    this.memory.apply(entry);
    try {
      await this.link.request({ kind: 'revoke', entry });
    } catch (error) {
      throw new GatehouseError('GH_SESSION_STORE_UNAVAILABLE', `revocation not confirmed by every worker: ${(error as Error).message}`, { cause: error });
    }
  }

  isRevoked(session: Parameters<RevocationList['isRevoked']>[0]): boolean {
    return this.memory.isRevoked(session);
  }

  get size(): number {
    return this.memory.size;
  }

  async close(): Promise<void> {}
}

/** One check-and-set in the primary: a state is spent once across all workers. */
export class ClusterSpentStates implements SpentStates {
  constructor(private readonly link: PrimaryLink) {}

  spend(state: string, ttlMs: number): Promise<boolean> {
    return this.link.request<boolean>({ kind: 'spend', key: state, ttlMs });
  }
}

/** The refresh lock and published outcome live in the primary: one refresh per session across workers. */
export class ClusterRefreshCoordination implements RefreshCoordination {
  constructor(private readonly link: PrimaryLink) {}

  tryLock(key: string, ttlMs: number): Promise<string | null> {
    return this.link.request<string | null>({ kind: 'refresh-lock', key, ttlMs });
  }

  async unlock(key: string, token: string): Promise<void> {
    await this.link.request({ kind: 'refresh-unlock', key, token });
  }

  recall(key: string): Promise<string | null> {
    return this.link.request<string | null>({ kind: 'refresh-recall', key });
  }

  async remember(key: string, sealed: string, ttlMs: number): Promise<void> {
    await this.link.request({ kind: 'refresh-remember', key, sealed, ttlMs });
  }
}

/**
 * Counts are the primary's, summed over every worker; each worker checks its
 * mirror. A failure counts here at once and is sent on; the primary's total
 * comes back to every worker.
 */
export class ClusterFailedCallbacks implements FailedCallbacks {
  private readonly mirror = new MemoryFailedCallbacks();

  constructor(private readonly link: PrimaryLink) {
    link.onNotice('callback-count', (notice) => this.take(notice.count, Date.now()));
  }

  take(count: CallbackCount, now: number): void {
    const mine = this.mirror.get(count.ip);
    // the same minute: never lower than what this worker counted itself (the primary's total may not include it yet)
    const value = mine && mine.resetAt === count.resetAt ? Math.max(mine.count, count.count) : count.count;
    this.mirror.set(count.ip, value, count.resetAt, now);
  }

  isLimited(ip: string, limit: number, now: number): boolean {
    return this.mirror.isLimited(ip, limit, now);
  }

  async count(ip: string, now: number): Promise<void> {
    this.mirror.count(ip, now);
    try {
      // the primary has sent the new total to every worker before it answers here
      this.take(await this.link.request<CallbackCount>({ kind: 'callback-failed', ip, now }), Date.now());
    } catch {
      // the local count stands
    }
  }
}

/** A scrape on any worker shows every worker: the primary collects and aggregates. */
export function shareMetrics(link: PrimaryLink, metrics: Metrics): void {
  link.answer('collect-metrics', () => metrics.json());
  metrics.aggregateWith(() => link.request<string>({ kind: 'metrics' }));
}

export interface ClusterShared {
  revocations: ClusterRevocationList;
  spentStates: ClusterSpentStates;
  refreshCoordination: ClusterRefreshCoordination;
  failedCallbacks: ClusterFailedCallbacks;
}

/** Say hello to the primary and take what it already holds (revocations made before this worker started). */
export async function joinCluster(link: PrimaryLink, metrics: Metrics): Promise<ClusterShared> {
  const revocations = new ClusterRevocationList(link);
  const failedCallbacks = new ClusterFailedCallbacks(link);
  shareMetrics(link, metrics);
  const hello = await link.request<HelloAnswer>({ kind: 'hello' });
  revocations.load(hello.revocations);
  for (const count of hello.callbackCounts) failedCallbacks.take(count, Date.now());
  return { revocations, spentStates: new ClusterSpentStates(link), refreshCoordination: new ClusterRefreshCoordination(link), failedCallbacks };
}
