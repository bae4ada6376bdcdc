/**
 * What one revocation says, and how two of the same key merge. A leaf module
 * (no imports): the cluster primary uses it without loading gateway code.
 */

export interface Revocation {
  kind: 'session' | 'subject' | 'provider-session';
  realm: string;
  /** session id, subject, or provider sid */
  value: string;
  /** sessions created at or before this moment are ended (ms) */
  at: number;
  /** forget the entry after this moment: no session it could match is alive (ms) */
  until: number;
}

/** The key a revocation is held under: one entry per session, subject or provider session of a realm. */
export function revocationKey(kind: Revocation['kind'], realm: string, value: string): string {
  return `${kind}\u0000${realm}\u0000${value}`;
}

/** A revocation over one held under the same key: the later `at` and the later `until` win, so a merge never shortens one. */
export function mergeRevocation(existing: Revocation | undefined, entry: Revocation): Revocation {
  if (existing === undefined) return entry;
  return { ...entry, at: Math.max(entry.at, existing.at), until: Math.max(entry.until, existing.until) };
}
