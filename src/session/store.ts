/**
 * One interface for where sessions live. The cookie store keeps the whole
 * sealed session in the browser; the Redis store keeps only an opaque ticket
 * there. Either way the request path asks the same three questions.
 */
import type { SealKey } from './codec.js';
import type { SessionData } from './session.js';

export interface StoreRealm {
  readonly name: string;
  /** keys for this realm's session cookies (first seals, all open) */
  readonly sealKeys: readonly SealKey[];
}

export interface SessionStore {
  readonly kind: 'cookie' | 'redis';
  /** how long (ms) a session opened from this store may be served from the session cache before asking the store again */
  readonly recheckMs: number;
  /** The browser's (joined) cookie value to a session, or null. Throws GH_SESSION_STORE_UNAVAILABLE when the store is down. */
  load(realm: StoreRealm, cookieValue: string): Promise<SessionData | null>;
  /** Persist the session; returns the cookie value to hand to the browser. */
  save(realm: StoreRealm, data: SessionData, lifetimeLeftMs: number): Promise<string>;
  /** End the session (the browser's cookie is cleared separately). */
  destroy(realm: StoreRealm, cookieValue: string, data: SessionData | null): Promise<void>;
  /** true when the store can serve */
  ready(): Promise<boolean>;
  close(): Promise<void>;
}
