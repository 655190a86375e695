import { Fifo } from "./fifo.js";

interface Entry<V> {
  readonly key: string;
  readonly value: V;
  readonly expiresAt: number;
}

/**
 * Remembers keys for a fixed window, like JetStream's duplicate window and max age, and at most `maxEntries`
 * of them, like a stream's max messages with the oldest discarded. Every set() gets a fresh expiry and the
 * window is constant, so entries expire in the order they were set: pruning (on set, the only call that
 * grows it) takes them from the front of a queue, amortized O(1), and a lookup only checks its entry.
 *
 * The order is a queue beside the Map rather than the Map's own order: deleting from a Map's front leaves
 * holes that V8 skips one by one on every later iteration until it rehashes, which made each prune walk
 * tens of thousands of them once the window was full.
 */
export class DedupWindow<V> {
  private readonly keys = new Map<string, Entry<V>>();
  /** Entries in the order they were set; an entry replaced by a later set() of its key stays until reached. */
  private order = new Fifo<Entry<V>>();

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

  /** The values not yet expired, oldest first. */
  values(): V[] {
    const now = this.now();
    return [...this.keys.values()].filter((e) => e.expiresAt > now).map((e) => e.value);
  }

  set(key: string, value: V): void {
    const now = this.now();
    const entry: Entry<V> = { key, value, expiresAt: now + this.windowMs };
    this.keys.set(key, entry);
    this.order.push(entry);
    this.prune(now);
  }

  private prune(now: number): void {
    for (let head = this.order.peek(); head !== undefined; head = this.order.peek()) {
      const live = this.keys.get(head.key) === head;
      if (live && head.expiresAt > now && this.keys.size <= this.maxEntries) break;
      this.order.shift();
      if (live) this.keys.delete(head.key);
    }
    // Keys set again and again inside the window leave replaced entries behind in the queue: drop them
    // once they outnumber the live ones.
    if (this.order.length > 2 * this.keys.size + 1024) {
      const order = new Fifo<Entry<V>>();
      for (let e = this.order.shift(); e !== undefined; e = this.order.shift())
        if (this.keys.get(e.key) === e) order.push(e);
      this.order = order;
    }
  }
}
