/**
 * Opening a sealed cookie costs a key lookup and an AES-GCM decryption; the same
 * cookie arrives on every request of a session. This cache maps the exact cookie
 * value to what opening it produced (the same input always opens to the same
 * session), plus per-session work that must not be redone per request: the
 * identity headers and the signed assertion.
 *
 * Two generations instead of an LRU list: lookups and inserts are O(1) with no
 * bookkeeping on a hit, and memory is bounded by 2 × maxEntries.
 */
export class TwoGenerationCache<V> {
  private current = new Map<string, V>();
  private previous = new Map<string, V>();

  constructor(private readonly maxEntries: number) {}

  get(key: string): V | undefined {
    const hit = this.current.get(key);
    if (hit !== undefined) return hit;
    const old = this.previous.get(key);
    if (old !== undefined) this.set(key, old);
    return old;
  }

  set(key: string, value: V): void {
    if (this.current.size >= this.maxEntries) {
      this.previous = this.current;
      this.current = new Map();
    }
    this.current.set(key, value);
  }

  delete(key: string): void {
    this.current.delete(key);
    this.previous.delete(key);
  }

  clear(): void {
    this.current.clear();
    this.previous.clear();
  }

  get size(): number {
    return this.current.size + this.previous.size;
  }
}
