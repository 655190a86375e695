export interface WorkQueueOptions {
  /** Reconciles at most this many keys at once. */
  concurrency: number;
  /** First retry delay after a failure; doubles per consecutive failure of the key, up to maxDelayMs. */
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** 0..1: each retry delay is spread by up to ±jitter of itself, so failing keys do not retry in lockstep. */
  jitter?: number;
  random?: () => number;
}

/**
 * A per-key work queue in the shape of client-go's rate-limited workqueue: a key added while queued is
 * not queued twice; a key added while it is being processed is processed once more afterwards (never
 * concurrently with itself); a failure re-adds it after an exponential, jittered delay; a success resets
 * its failure count.
 */
export class WorkQueue {
  private readonly queued: string[] = [];
  private readonly queuedSet = new Set<string>();
  private readonly active = new Set<string>();
  private readonly dirty = new Set<string>();
  private readonly failures = new Map<string, number>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private stopped = false;
  private idleWaiters: (() => void)[] = [];

  constructor(
    private readonly process: (key: string) => Promise<void>,
    private readonly opts: WorkQueueOptions,
  ) {}

  add(key: string): void {
    if (this.stopped) return;
    if (this.active.has(key)) {
      this.dirty.add(key);
      return;
    }
    if (this.queuedSet.has(key)) return;
    this.queuedSet.add(key);
    this.queued.push(key);
    this.pump();
  }

  /** Adds the key after `delayMs` (a pending delayed add of the same key is replaced). */
  addAfter(key: string, delayMs: number): void {
    if (this.stopped) return;
    const existing = this.timers.get(key);
    if (existing !== undefined) clearTimeout(existing);
    const timer = setTimeout(() => {
      this.timers.delete(key);
      this.add(key);
    }, delayMs);
    timer.unref();
    this.timers.set(key, timer);
  }

  /** The delay before the next retry of a key that failed `failures` times in a row. */
  retryDelayMs(failures: number): number {
    const base = this.opts.baseDelayMs ?? 200;
    const max = this.opts.maxDelayMs ?? 60_000;
    const delay = Math.min(max, base * 2 ** Math.max(0, failures - 1));
    const jitter = this.opts.jitter ?? 0.2;
    const random = this.opts.random ?? Math.random;
    return Math.max(0, Math.round(delay * (1 + jitter * (2 * random() - 1))));
  }

  get length(): number {
    return this.queued.length;
  }

  /** Resolves when nothing is queued or running (delayed retries do not count). */
  idle(): Promise<void> {
    if (this.queued.length === 0 && this.active.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  stop(): void {
    this.stopped = true;
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
    this.queued.length = 0;
    this.queuedSet.clear();
  }

  private pump(): void {
    while (!this.stopped && this.active.size < this.opts.concurrency && this.queued.length > 0) {
      const key = this.queued.shift() as string;
      this.queuedSet.delete(key);
      this.active.add(key);
      void this.run(key);
    }
    if (this.queued.length === 0 && this.active.size === 0) for (const resolve of this.idleWaiters.splice(0)) resolve();
  }

  private async run(key: string): Promise<void> {
    try {
      await this.process(key);
      this.failures.delete(key);
    } catch {
      const failures = (this.failures.get(key) ?? 0) + 1;
      this.failures.set(key, failures);
      this.addAfter(key, this.retryDelayMs(failures));
    } finally {
      this.active.delete(key);
      if (this.dirty.delete(key)) this.add(key);
      this.pump();
    }
  }
}
