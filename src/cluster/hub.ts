/**
 * What the workers of one gateway share, held by the cluster primary: the
 * revocation list, spent single-use values (login states, logout-token jti),
 * refresh locks and their sealed outcomes, and failed-callback counts per client
 * address. The primary is one process, so a check-and-set here is atomic across
 * workers, as SET NX is in Redis.
 *
 * A revocation is in force on every worker before the worker that asked is
 * answered: the hub sends it to every other worker and answers only when each
 * has confirmed it applied the entry (or has exited). The signing-out request
 * is answered after that, so no replay of the old cookie that starts after the
 * answer can reach a worker that does not know yet. A worker that does not
 * confirm in time makes the revoke fail (the caller says so), never succeed
 * silently.
 *
 * Loads no gateway code: only node built-ins, the message shapes and the
 * revocation merge (session/revocation-entry.ts, a module without imports).
 */
import { randomBytes } from 'node:crypto';
import type { CallbackCount, Envelope, HelloAnswer, PrimaryRequest, RevocationEntry, WorkerRequest } from './messages.js';
import { mergeRevocation, revocationKey } from '../session/revocation-entry.js';

/** How the hub reaches one worker. */
export interface WorkerPort {
  readonly id: number;
  send(message: Envelope): void;
}

export interface HubOptions {
  now?: () => number;
  /** how long a worker may take to confirm a revocation or answer for metrics */
  answerTimeoutMs?: number;
  /** render the metrics of every worker as one scrape (primary.ts, with prom-client) */
  renderMetrics?: () => Promise<string>;
}

/** More entries than this in one of the maps: expired ones are dropped, then the oldest. */
const MAX_ENTRIES = 200_000;
const CALLBACK_WINDOW_MS = 60_000;

/** A map whose entries expire, bounded like session/login-attempt.ts MemorySpentStates. */
class ExpiringMap<V extends { until: number }> {
  private readonly entries = new Map<string, V>();
  constructor(private readonly now: () => number) {}

  get(key: string): V | undefined {
    const entry = this.entries.get(key);
    if (entry && entry.until <= this.now()) {
      this.entries.delete(key);
      return undefined;
    }
    return entry;
  }

  set(key: string, value: V): void {
    if (this.entries.size >= MAX_ENTRIES && !this.entries.has(key)) {
      const now = this.now();
      for (const [k, v] of this.entries) if (v.until <= now) this.entries.delete(k);
      if (this.entries.size >= MAX_ENTRIES) this.entries.delete(this.entries.keys().next().value!);
    }
    this.entries.set(key, value);
  }

  delete(key: string): void {
    this.entries.delete(key);
  }

  /** the live entries */
  list(): Array<[string, V]> {
    const now = this.now();
    return [...this.entries].filter(([, v]) => v.until > now);
  }
}

export class ClusterHub {
  private readonly now: () => number;
  private readonly answerTimeoutMs: number;
  private readonly workers = new Map<number, { port: WorkerPort; pending: Map<number, (outcome: { value?: unknown; error?: string }) => void> }>();
  private nextId = 1;
  private readonly revocations: ExpiringMap<RevocationEntry>;
  private readonly spent: ExpiringMap<{ until: number }>;
  private readonly locks: ExpiringMap<{ token: string; until: number }>;
  private readonly results: ExpiringMap<{ sealed: string; until: number }>;
  private readonly callbacks: ExpiringMap<{ count: number; until: number }>;

  constructor(private readonly options: HubOptions = {}) {
    this.now = options.now ?? Date.now;
    this.answerTimeoutMs = options.answerTimeoutMs ?? 3000;
    this.revocations = new ExpiringMap(this.now);
    this.spent = new ExpiringMap(this.now);
    this.locks = new ExpiringMap(this.now);
    this.results = new ExpiringMap(this.now);
    this.callbacks = new ExpiringMap(this.now);
  }

  /** Workers that said hello: they get revocations and are asked for metrics. */
  get attached(): number {
    return this.workers.size;
  }

  /** A worker is gone: nothing waits for its answers any more. */
  detach(workerId: number): void {
    const worker = this.workers.get(workerId);
    if (!worker) return;
    this.workers.delete(workerId);
    for (const settle of worker.pending.values()) settle({ error: 'the worker exited' });
  }

  /** A message from a worker: a request to answer, or the reply to one of ours. */
  receive(port: WorkerPort, message: Envelope): void {
    if ('reply' in message) {
      this.workers.get(port.id)?.pending.get(message.reply)?.({ value: message.value, ...(message.error !== undefined ? { error: message.error } : {}) });
      return;
    }
    if (!('id' in message)) return;
    const id = message.id;
    this.handle(port, message as WorkerRequest).then(
      (value) => port.send({ gh: 1, reply: id, value }),
      (error: unknown) => port.send({ gh: 1, reply: id, error: (error as Error).message }),
    );
  }

  async handle(port: WorkerPort, request: WorkerRequest): Promise<unknown> {
    switch (request.kind) {
      case 'hello':
        return this.hello(port);
      case 'revoke':
        return this.revoke(port.id, request.entry);
      case 'spend': {
        if (this.spent.get(request.key)) return false;
        this.spent.set(request.key, { until: this.now() + request.ttlMs });
        return true;
      }
      case 'refresh-lock': {
        if (this.locks.get(request.key)) return null;
        const token = randomBytes(16).toString('base64url');
        this.locks.set(request.key, { token, until: this.now() + request.ttlMs });
        return token;
      }
      case 'refresh-unlock':
        if (this.locks.get(request.key)?.token === request.token) this.locks.delete(request.key);
        return null;
      case 'refresh-recall':
        return this.results.get(request.key)?.sealed ?? null;
      case 'refresh-remember':
        this.results.set(request.key, { sealed: request.sealed, until: this.now() + request.ttlMs });
        return null;
      case 'callback-failed':
        return this.countFailedCallback(request.ip, request.now);
      case 'metrics':
        if (!this.options.renderMetrics) throw new Error('metrics are not aggregated here');
        return this.options.renderMetrics();
    }
  }

  /** Every attached worker's answer to a request (metrics); a worker that does not answer in time is left out. */
  async askAll(request: PrimaryRequest): Promise<unknown[]> {
    const answers = await Promise.all([...this.workers.keys()].map((id) => this.ask(id, request).catch(() => undefined)));
    return answers.filter((a) => a !== undefined);
  }

  private hello(port: WorkerPort): HelloAnswer {
    // attached before the snapshot is sent: a revocation that comes later reaches this worker after it (one ordered channel)
    if (!this.workers.has(port.id)) this.workers.set(port.id, { port, pending: new Map() });
    return {
      revocations: this.revocations.list().map(([, entry]) => entry),
      callbackCounts: this.callbacks.list().map(([ip, entry]) => ({ ip, count: entry.count, resetAt: entry.until })),
    };
  }

  private async revoke(fromWorker: number, entry: RevocationEntry): Promise<null> {
    const key = revocationKey(entry.kind, entry.realm, entry.value);
    const merged = mergeRevocation(this.revocations.get(key), entry);
    this.revocations.set(key, merged);
    const others = [...this.workers.keys()].filter((id) => id !== fromWorker);
    const outcomes = await Promise.allSettled(others.map((id) => this.ask(id, { kind: 'apply-revocation', entry: merged })));
    const unconfirmed = outcomes.filter((o) => o.status === 'rejected' && (o.reason as Error).message !== 'the worker exited').length;
    if (unconfirmed > 0) throw new Error(`${unconfirmed} worker(s) did not confirm the revocation in time`);
    return null;
  }

  private countFailedCallback(ip: string, now: number): CallbackCount {
    const entry = this.callbacks.get(ip);
    const next = entry && entry.until > now ? { count: entry.count + 1, until: entry.until } : { count: 1, until: now + CALLBACK_WINDOW_MS };
    this.callbacks.set(ip, next);
    const count = { ip, count: next.count, resetAt: next.until };
    for (const { port } of this.workers.values()) port.send({ gh: 1, kind: 'callback-count', count });
    return count;
  }

  private ask(workerId: number, request: PrimaryRequest): Promise<unknown> {
    const worker = this.workers.get(workerId);
    if (!worker) return Promise.reject(new Error('the worker exited'));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => settle({ error: 'no answer in time' }), this.answerTimeoutMs);
      const settle = (outcome: { value?: unknown; error?: string }): void => {
        clearTimeout(timer);
        worker.pending.delete(id);
        if (outcome.error !== undefined) reject(new Error(outcome.error));
        else resolve(outcome.value);
      };
      worker.pending.set(id, settle);
      try {
        worker.port.send({ gh: 1, id, ...request });
      } catch {
        settle({ error: 'the worker exited' });
      }
    });
  }
}
