/**
 * What the cluster primary and its workers say to each other over node:cluster's
 * IPC channel. Every message carries `gh: 1` so the two sides ignore anything
 * else on the channel (prom-client, other libraries). A request carries an `id`;
 * its answer is a `reply` to that id, from the other side, in either direction:
 * a worker asks the primary (spend a state, take a refresh lock, revoke), and the
 * primary asks a worker (apply this revocation, give me your metrics).
 *
 * Type-only module for the shapes plus one guard: the primary imports it and
 * nothing of the gateway.
 */
import type { Revocation } from '../session/revocation-entry.js';

/** A revocation as it travels (session/revocation-entry.ts: a module the primary may load). */
export type RevocationEntry = Revocation;

export interface CallbackCount {
  ip: string;
  count: number;
  resetAt: number;
}

/** Worker → primary requests, and what the primary answers. */
export type WorkerRequest =
  | { kind: 'hello' }
  | { kind: 'revoke'; entry: RevocationEntry }
  | { kind: 'spend'; key: string; ttlMs: number }
  | { kind: 'refresh-lock'; key: string; ttlMs: number }
  | { kind: 'refresh-unlock'; key: string; token: string }
  | { kind: 'refresh-recall'; key: string }
  | { kind: 'refresh-remember'; key: string; sealed: string; ttlMs: number }
  | { kind: 'callback-failed'; ip: string; now: number }
  | { kind: 'metrics' };

export interface HelloAnswer {
  revocations: RevocationEntry[];
  callbackCounts: CallbackCount[];
}

/** Primary → worker requests (answered with a reply) and notices (not answered). */
export type PrimaryRequest = { kind: 'apply-revocation'; entry: RevocationEntry } | { kind: 'collect-metrics' };
export type PrimaryNotice = { kind: 'callback-count'; count: CallbackCount };
/** Worker → primary, not answered: the worker could not start (said once by the primary, for all workers). */
export type StartFailure = { gh: 1; kind: 'start-failed'; reason: string };

export function isStartFailure(message: unknown): message is StartFailure {
  return isEnvelope(message) && (message as { kind?: unknown }).kind === 'start-failed' && typeof (message as { reason?: unknown }).reason === 'string';
}

export type Envelope =
  | ({ gh: 1; id: number } & (WorkerRequest | PrimaryRequest))
  | ({ gh: 1 } & PrimaryNotice)
  | { gh: 1; reply: number; value?: unknown; error?: string };

export function isEnvelope(message: unknown): message is Envelope {
  return typeof message === 'object' && message !== null && (message as { gh?: unknown }).gh === 1;
}
