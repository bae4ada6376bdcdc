/**
 * Sessions ended before their time (logout, back-channel logout, "sign out
 * everywhere"). The cookie store cannot delete a cookie someone copied, so the
 * gateway remembers what was revoked until the session would have expired anyway.
 * The check is synchronous and in memory: it runs on every request. A shared
 * (Redis) implementation keeps the same in-memory view, fed by publish/subscribe.
 */
import type { SessionData } from './session.js';
import { mergeRevocation, revocationKey, type Revocation } from './revocation-entry.js';

export type { Revocation } from './revocation-entry.js';

export interface RevocationList {
  revoke(entry: Revocation): Promise<void>;
  isRevoked(session: SessionData): boolean;
  close(): Promise<void>;
}

export class MemoryRevocationList implements RevocationList {
  private readonly entries = new Map<string, Revocation>();
  private sweepAt = 0;

  constructor(private readonly now: () => number = Date.now) {}

  /** Also used by shared implementations to apply what other instances published. */
  apply(entry: Revocation): void {
    const key = revocationKey(entry.kind, entry.realm, entry.value);
    this.entries.set(key, mergeRevocation(this.entries.get(key), entry));
  }

  async revoke(entry: Revocation): Promise<void> {
    this.apply(entry);
  }

  isRevoked(session: SessionData): boolean {
    if (this.entries.size === 0) return false;
    this.sweep();
    const hit = (kind: Revocation['kind'], value: string | undefined): boolean => {
      if (value === undefined) return false;
      const entry = this.entries.get(revocationKey(kind, session.realm, value));
      return entry !== undefined && session.createdAt <= entry.at;
    };
    return hit('session', session.id) || hit('subject', session.sub) || hit('provider-session', session.sid);
  }

  get size(): number {
    return this.entries.size;
  }

  private sweep(): void {
    const now = this.now();
    if (now < this.sweepAt) return;
    this.sweepAt = now + 60_000;
    for (const [key, entry] of this.entries) if (entry.until < now) this.entries.delete(key);
  }

  async close(): Promise<void> {}
}
