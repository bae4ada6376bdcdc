/**
 * The long-lived parts of a running gateway, shared by the request path and the
 * reserved endpoints: the current Runtime (swapped whole on reload), the session
 * store, the revocation list, the session cache, the upstream connection pool,
 * metrics and the logger.
 */
import { Pool } from 'undici';
import type { Runtime, RealmRuntime } from './runtime.js';
import type { SessionStore } from './session/store.js';
import type { RevocationList } from './session/revocation.js';
import type { SpentStates } from './session/login-attempt.js';
import type { FailedCallbacks } from './session/failed-callbacks.js';
import type { SessionData } from './session/session.js';
import type { SessionCache } from './session/cache.js';
import type { ErrorCode } from './errors.js';
import type { Metrics } from './observe/metrics.js';
import type { Logger } from './observe/log.js';
import type { UpstreamSlots } from './proxy/upstream-slots.js';
import type { Tracing } from './observe/tracing.js';

/** A session opened once and the per-session work done for it. */
export interface SessionEntry {
  /**
   * the session as its value opens, without the ID token and the claims (flows/authenticate.ts
   * cachedPart): a write-back or logout opens the value again for those
   */
  session: SessionData;
  realm: RealmRuntime;
  /** the runtime generation the entry was checked against */
  generation: number;
  /** the allow-rule verdict: null = allowed */
  refusal: ErrorCode | null;
  /** identity headers without the assertion: name, value, name, value, ... */
  headers: string[];
  assertion: string;
  /** sign a new assertion after this moment (ms) */
  assertionRenewAt: number;
  /** when the store was last asked about this session (ms) */
  checkedAt: number;
}

/** Refreshes provider tokens of a session (session/refresh.ts); absent when refresh is off. */
export interface SessionRefresher {
  /** A session whose tokens are due for refresh → the refreshed session, or null if it ended (invalid_grant). */
  refreshIfDue(realm: RealmRuntime, session: SessionData, cookieValue: string): Promise<SessionData | null>;
}

export interface Gateway {
  runtime: Runtime;
  readonly store: SessionStore;
  readonly revocations: RevocationList;
  readonly spentStates: SpentStates;
  /** cookie value → entry, one entry per session (src/session/cache.ts) */
  readonly cache: SessionCache<SessionEntry>;
  readonly metrics: Metrics;
  readonly log: Logger;
  readonly now: () => number;
  upstreamPool: Pool;
  /** who may take a pool connection next (upstream-slots.ts): every forwarded request passes it */
  readonly upstreamSlots: UpstreamSlots;
  refresher: SessionRefresher | null;
  /** failed callbacks per client address, for rate limiting (shared by the workers of a cluster) */
  readonly failedCallbacks: FailedCallbacks;
  /** OpenTelemetry spans (observe/tracing.ts); absent or null when observe.tracing is not set */
  readonly tracing?: Tracing | null;
  /** set when the gateway starts to drain (shutdown): readiness answers 503 from then on */
  draining?: boolean;
}

export function createUpstreamPool(runtime: Runtime): Pool {
  return new Pool(runtime.upstream.origin, {
    connections: runtime.upstream.maxConnections,
    pipelining: 1,
    keepAliveTimeout: 30_000,
    headersTimeout: runtime.upstream.timeoutMs,
    bodyTimeout: runtime.upstream.timeoutMs,
    connectTimeout: Math.min(runtime.upstream.timeoutMs, 10_000),
  });
}
