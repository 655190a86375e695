import type { Consumer, ConsumerMessages, JsMsg } from "@nats-io/jetstream";
import type { Subscription } from "../bus.js";

export interface PullLoopOptions {
  consumer: Consumer;
  /** Most messages handed out and not yet released. */
  maxInFlight: number;
  /** Lifetime of one pull request on the server (the client's minimum is 1000). */
  expiresMs?: number;
  /**
   * Called synchronously, in arrival order, for every message. `release` frees its slot; it is
   * idempotent. Must not block: run the actual work in its own task.
   */
  deliver(m: JsMsg, release: () => void): void;
  /** A pull failed (disconnect, server restart, consumer gone); the loop retries with backoff. */
  onError?(err: unknown): void;
}

const MAX_CONCURRENT_FETCHES = 2;
const DEFAULT_EXPIRES_MS = 5_000;

/**
 * Pulls from a durable consumer only as many messages as there are free slots, so no message sits in a
 * client buffer with its ack-wait clock running: every message is handed out the moment it arrives.
 * Survives disconnects and server restarts by retrying pulls with a capped backoff.
 */
export class PullLoop implements Subscription {
  readonly closed: Promise<void>;
  private resolveClosed!: () => void;
  private inFlight = 0;
  private requested = 0;
  private fetches = 0;
  private failures = 0;
  private stopped = false;
  private readonly iters = new Set<ConsumerMessages>();
  private readonly sleepers = new Set<() => void>();

  constructor(private readonly opts: PullLoopOptions) {
    this.closed = new Promise((resolve) => (this.resolveClosed = resolve));
  }

  start(): this {
    this.pump();
    return this;
  }

  get isStopped(): boolean {
    return this.stopped;
  }

  /** Abandons the current pull requests and issues fresh ones (after a reconnect the server lost them). */
  kick(): void {
    for (const it of this.iters) void it.close().catch(() => undefined);
    for (const wake of this.sleepers) wake();
  }

  async stop(): Promise<void> {
    if (!this.stopped) {
      this.stopped = true;
      this.kick();
      this.maybeClosed();
    }
    await this.closed;
  }

  private maybeClosed(): void {
    if (this.stopped && this.fetches === 0) this.resolveClosed();
  }

  private pump(): void {
    while (!this.stopped && this.fetches < MAX_CONCURRENT_FETCHES) {
      const n = this.opts.maxInFlight - this.inFlight - this.requested;
      if (n <= 0) return;
      // While a pull is open, wait until a quarter of the slots are free before asking for more: a pull
      // request per freed slot would cost more than the messages it brings.
      if (this.fetches > 0 && n < Math.max(1, Math.floor(this.opts.maxInFlight / 4))) return;
      this.fetches++;
      this.requested += n;
      void this.runFetch(n);
    }
  }

  private async runFetch(n: number): Promise<void> {
    let got = 0;
    let failed = false;
    try {
      const iter = await this.opts.consumer.fetch({
        max_messages: n,
        expires: this.opts.expiresMs ?? DEFAULT_EXPIRES_MS,
      });
      this.iters.add(iter);
      // stop() ran while the pull request was being made: kick() could not reach it, so close it here.
      if (this.stopped) void iter.close().catch(() => undefined);
      try {
        // Nothing here awaits: each message is handed out synchronously and worked on in its own task.
        for await (const m of iter) {
          got++;
          this.requested--;
          if (this.stopped) {
            // Pulled just before stop(): give it straight back rather than letting its ack wait run out.
            m.nak();
            continue;
          }
          this.hand(m);
        }
      } finally {
        this.iters.delete(iter);
      }
      this.failures = 0;
    } catch (err) {
      failed = true;
      this.failures++;
      if (!this.stopped) this.opts.onError?.(err);
    }
    this.requested -= n - got;
    if (failed && !this.stopped) await this.sleep(Math.min(2_000, 100 * 2 ** Math.min(this.failures, 5)));
    this.fetches--;
    this.maybeClosed();
    this.pump();
  }

  private hand(m: JsMsg): void {
    this.inFlight++;
    let released = false;
    const release = (): void => {
      if (released) return;
      released = true;
      this.inFlight--;
      this.pump();
    };
    try {
      this.opts.deliver(m, release);
    } catch {
      release();
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = (): void => {
        clearTimeout(timer);
        this.sleepers.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      this.sleepers.add(wake);
    });
  }
}
