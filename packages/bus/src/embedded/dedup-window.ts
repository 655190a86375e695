/**
 * Remembers keys for a fixed window, like JetStream's duplicate window and max age, and at most `maxEntries`
 * of them, like a stream's max messages with the oldest discarded. Every set() puts its key last with a
 * fresh expiry and the window is constant, so expired keys, and the oldest, are always at the front of the
 * Map: pruning (on set, the only call that grows it) is amortized O(1), and a lookup only checks its entry.
 */
export class DedupWindow<V> {
  private readonly keys = new Map<string, { value: V; expiresAt: number }>();

  constructor(
    private readonly windowMs: number,
    private readonly now: () => number,
    private readonly maxEntries = Infinity,
  ) {}

  get size(): number {
    return this.keys.size;
  }

  get(key: string): V | undefined {
    const entry = this.keys.get(key);
    return entry !== undefined && entry.expiresAt > this.now() ? entry.value : undefined;
  }

  set(key: string, value: V): void {
    const now = this.now();
    this.prune(now);
    // Delete first: Map.set on a present key keeps its old place, which would break the front-first order.
    this.keys.delete(key);
    this.keys.set(key, { value, expiresAt: now + this.windowMs });
  }

  private prune(now: number): void {
    for (const [key, entry] of this.keys) {
      if (entry.expiresAt > now && this.keys.size < this.maxEntries) break;
      this.keys.delete(key);
    }
  }
}
