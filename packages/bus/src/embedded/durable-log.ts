import type { Subscription } from "../bus.js";
import { Fifo } from "./fifo.js";

/** A failed item comes back after 250 ms, then twice as late each time, at most every 5 s. */
const RETRY_DELAY_MS = 250;
const MAX_RETRY_DELAY_MS = 5_000;
const MAX_OUTSTANDING = 256;

/**
 * A queue whose items wait for a consumer, like a durable JetStream consumer: items appended while
 * nobody consumes are delivered when someone does; an item whose handler throws comes back after a delay;
 * an item whose handler resolves is gone for good. Consumers share the items (one logical durable).
 */
export class DurableLog<T> {
  private readonly waiting = new Fifo<T>();
  /** Failed deliveries so far of the items that failed (by identity): their backoff. */
  private readonly failures = new WeakMap<object, number>();
  private readonly consumers: LogConsumer<T>[] = [];
  private readonly timers = new Set<NodeJS.Timeout>();
  private next = 0;

  append(item: T): void {
    this.waiting.push(item);
    this.dispatch();
  }

  consume(handler: (item: T) => void | Promise<void>): Subscription {
    let resolveClosed: () => void = () => undefined;
    const closed = new Promise<void>((r) => (resolveClosed = r));
    const consumer: LogConsumer<T> = { handler, outstanding: 0, stopped: false, stop: resolveClosed };
    this.consumers.push(consumer);
    this.dispatch();
    return {
      closed,
      stop: async () => {
        this.detach(consumer);
      },
    };
  }

  close(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    for (const c of [...this.consumers]) this.detach(c);
  }

  private detach(consumer: LogConsumer<T>): void {
    if (consumer.stopped) return;
    consumer.stopped = true;
    this.consumers.splice(this.consumers.indexOf(consumer), 1);
    consumer.stop();
  }

  private dispatch(): void {
    while (this.waiting.length > 0) {
      const consumer = this.pickConsumer();
      if (consumer === undefined) return;
      const item = this.waiting.shift() as T;
      consumer.outstanding++;
      void this.deliver(consumer, item);
    }
  }

  private pickConsumer(): LogConsumer<T> | undefined {
    for (let i = 0; i < this.consumers.length; i++) {
      const c = this.consumers[(this.next + i) % this.consumers.length] as LogConsumer<T>;
      if (c.outstanding < MAX_OUTSTANDING) {
        this.next = (this.next + i + 1) % this.consumers.length;
        return c;
      }
    }
    return undefined;
  }

  private async deliver(consumer: LogConsumer<T>, item: T): Promise<void> {
    try {
      await consumer.handler(item);
    } catch {
      // The handler says why (the coordinator logs what it cannot record); the item backs off so a failure
      // that lasts (a store that is down) does not turn into a busy loop.
      const failed = typeof item === "object" && item !== null ? (this.failures.get(item) ?? 0) + 1 : 1;
      if (typeof item === "object" && item !== null) this.failures.set(item, failed);
      const timer = setTimeout(
        () => {
          this.timers.delete(timer);
          this.append(item);
        },
        Math.min(MAX_RETRY_DELAY_MS, RETRY_DELAY_MS * 2 ** (failed - 1)),
      );
      this.timers.add(timer);
    } finally {
      consumer.outstanding--;
      this.dispatch();
    }
  }
}

interface LogConsumer<T> {
  handler: (item: T) => void | Promise<void>;
  outstanding: number;
  stopped: boolean;
  stop: () => void;
}
