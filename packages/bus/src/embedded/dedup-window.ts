/**
 * Remembers keys for a fixed window, like JetStream's duplicate window. Keys are inserted in time order
 * and the window is constant, so expired keys are always at the front of the Map: pruning is amortized O(1).
 */
export class DedupWindow<V> {
  private readonly keys = new Map<string, { value: V; expiresAt: number }>();

  constructor(
    private readonly windowMs: number,
    private readonly now: () => number,
  ) {}

  get(key: string): V | undefined {
    this.prune();
    return this.keys.get(key)?.value;
  }

  set(key: string, value: V): void {
    this.keys.set(key, { value, expiresAt: this.now() + this.windowMs });
  }

  private prune(): void {
    const now = this.now();
    for (const [key, entry] of this.keys) {
      if (entry.expiresAt > now) break;
      this.keys.delete(key);
    }
  }
}
