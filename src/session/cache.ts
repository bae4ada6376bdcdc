/**
 * Opening a sealed cookie costs a key lookup and an AES-GCM decryption; the same
 * cookie arrives on every request of a session. This cache maps the exact cookie
 * value to what opening it produced (the same input always opens to the same
 * session), plus per-session work that must not be redone per request: the
 * identity headers and the signed assertion.
 *
 * Two generations instead of an LRU list: lookups and inserts are O(1) with no
 * bookkeeping on a hit, and memory is bounded by 2 × maxEntries.
 *
 * Long keys are not hashed whole. A sealed cookie is 1–4 KB, arrives as a new
 * string on every request, and V8 hashes a string key in full on each Map
 * lookup (~2.5 µs for 1.7 KB, measured). Such keys are filed under a small
 * integer made of their length and last 12 characters — the end of the
 * AES-GCM tag or MAC, different for every value sealed — and a hit counts only
 * when the whole stored key is equal. An integer, not a shorter string: no
 * string is built and hashed per request. Two values sharing a slot (by chance,
 * or by knowing another person's cookie) only evict each other: a miss, never
 * the wrong entry.
 */
const WHOLE_KEY_MAX = 64;
const TAIL_CHARS = 12;

function slotOf(key: string): string | number {
  const length = key.length;
  if (length <= WHOLE_KEY_MAX) return key;
  let slot = length;
  for (let i = length - TAIL_CHARS; i < length; i++) slot = (Math.imul(slot, 31) + key.charCodeAt(i)) | 0;
  return slot;
}

interface Slot<V> {
  key: string;
  value: V;
}

export class TwoGenerationCache<V> {
  private current = new Map<string | number, Slot<V>>();
  private previous = new Map<string | number, Slot<V>>();

  constructor(private readonly maxEntries: number) {}

  get(key: string): V | undefined {
    const slot = slotOf(key);
    const hit = this.current.get(slot);
    if (hit !== undefined) return hit.key === key ? hit.value : undefined;
    const old = this.previous.get(slot);
    if (old === undefined || old.key !== key) return undefined;
    this.set(key, old.value);
    return old.value;
  }

  set(key: string, value: V): void {
    if (this.current.size >= this.maxEntries) {
      this.previous = this.current;
      this.current = new Map();
    }
    this.current.set(slotOf(key), { key, value });
  }

  delete(key: string): void {
    const slot = slotOf(key);
    if (this.current.get(slot)?.key === key) this.current.delete(slot);
    if (this.previous.get(slot)?.key === key) this.previous.delete(slot);
  }

  clear(): void {
    this.current.clear();
    this.previous.clear();
  }

  get size(): number {
    return this.current.size + this.previous.size;
  }
}

/**
 * A string of its own for a cookie value kept as a key. The value read from a
 * request is a slice of that request's whole Cookie header (V8 keeps the
 * header alive behind a slice: the other realm's cookie, analytics cookies),
 * and a freshly sealed value is a concatenation of its parts; kept as they
 * are, either holds more than the value's own characters for as long as the
 * entry lives. Cookie values are bytes read as latin1, so the round trip is
 * exact. Paid once per cached value, never on a hit.
 */
export function ownCopy(value: string): string {
  return Buffer.from(value, 'latin1').toString('latin1');
}

/** What SessionCache needs to know of an entry: whose session it is, and when that was last seen. */
interface OfSession {
  readonly session: { readonly id: string; readonly seenAt: number };
}

/**
 * The session cache: one entry per live session, not one per cookie value seen.
 *
 * With the cookie store a session's cookie value changes at every touch ("last
 * seen" re-sealed at most once a touch interval) and every worker seals its own
 * successor. Keyed by value alone, each worker kept the old value's entry
 * (then ~5 KB: the value, the session, its headers and assertion) beside the new one
 * until generation rotation: memory grew with the cookie values seen, not with
 * the people signed in (issue 6, the soak: +32% RSS after one touch interval).
 *
 * So beside the entries (by cookie value, the hot path's only lookup) sits an
 * index: session id → the value of that session's one entry. set() makes the
 * value the session's entry and drops the one the index named before. Nothing
 * happens on a hit: get() is TwoGenerationCache.get. The index is bounded the
 * same way, with twice the room, so it outlives the entries it names (its
 * items are small: the id and a reference to the value string the entries
 * already hold); an index item whose entry is gone is simply not found.
 */
export class SessionCache<E extends OfSession> {
  private readonly entries: TwoGenerationCache<E>;
  /** session id → the cookie value its entry is cached under */
  private readonly newest: TwoGenerationCache<string>;

  constructor(maxEntries: number) {
    this.entries = new TwoGenerationCache<E>(maxEntries);
    this.newest = new TwoGenerationCache<string>(2 * maxEntries);
  }

  /** The hot path: the entry for exactly this cookie value, no bookkeeping on a hit. */
  get(value: string): E | undefined {
    return this.entries.get(value);
  }

  /** value's entry becomes its session's one entry: the value the session was cached under before is dropped. */
  set(value: string, entry: E): void {
    const id = entry.session.id;
    value = ownCopy(value);
    const before = this.newest.get(id);
    if (before !== undefined && before !== value) this.entries.delete(before);
    this.entries.set(value, entry);
    this.newest.set(id, value);
  }

  /** The session's entry and the cookie value it is cached under, if it is still cached. */
  newestOf(id: string): { value: string; entry: E } | undefined {
    const value = this.newest.get(id);
    if (value === undefined) return undefined;
    const entry = this.entries.get(value);
    // the value could have been deleted (sign-out, refresh ended, another realm) or rotated out since
    return entry !== undefined && entry.session.id === id ? { value, entry } : undefined;
  }

  /** Forget this value's entry; an index item still naming it is no longer found by newestOf. */
  delete(value: string): void {
    this.entries.delete(value);
  }

  clear(): void {
    this.entries.clear();
    this.newest.clear();
  }

  /** cached entries (cookie values): one per session, unless the index lost track of one (then bounded as before) */
  get size(): number {
    return this.entries.size;
  }
}
