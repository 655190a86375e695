import type { Logger } from "pino";
import type { JobStorage } from "../store/job-storage.js";

/** Jobs one step (one SQL statement) looks at: 13 ms of Postgres per step deleting 1,000 (decision 0017). */
export const PRUNE_STEP = 1_000;
/** The longest wait between two passes; a shorter retention gets passes at half its length. */
export const MAX_PASS_INTERVAL_MS = 30_000;
const MIN_PASS_INTERVAL_MS = 100;

export interface JobRetentionOptions {
  store: JobStorage;
  log: Logger;
  /** The retention in ms, or null to keep decided jobs: read for every pass, so a change applies at the next one. */
  retentionMs: () => number | null;
  /** Jobs deleted, reported step by step (a pass that fails midway has deleted some). */
  onPruned: (count: number) => void;
  onPass: (outcome: "ok" | "failed") => void;
  /** Whether this coordinator runs the passes (one replica at a time does; default: always). */
  isLeader?: () => boolean;
}

/**
 * Deletes decided jobs once they are older than the retention: a pass every 30 s (or half the retention,
 * when that is shorter), on a timer that keeps no process alive, in steps of PRUNE_STEP jobs. The next pass
 * is armed only when one ends, so two never overlap. A failed pass is logged and the next one tries again:
 * nothing depends on it but the store's size.
 */
export class JobRetention {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;

  constructor(private readonly opts: JobRetentionOptions) {}

  start(): void {
    this.arm();
  }

  /** Starts no further pass or step, and resolves once the step running (if any) has ended. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }

  private arm(): void {
    if (this.stopped) return;
    const retention = this.opts.retentionMs();
    const interval =
      retention === null
        ? MAX_PASS_INTERVAL_MS
        : Math.min(MAX_PASS_INTERVAL_MS, Math.max(MIN_PASS_INTERVAL_MS, retention / 2));
    this.timer = setTimeout(() => {
      this.running = this.pass().finally(() => {
        this.running = undefined;
        this.arm();
      });
    }, interval);
    this.timer.unref();
  }

  private async pass(): Promise<void> {
    const { store, log } = this.opts;
    const retention = this.opts.retentionMs();
    if (retention === null || this.opts.isLeader?.() === false) return;
    const before = new Date(Date.now() - retention);
    const started = performance.now();
    let deleted = 0;
    let steps = 0;
    try {
      // A pass stops when this coordinator stops leading; the new leader's next pass starts over.
      for (let after: number | undefined; !this.stopped && this.opts.isLeader?.() !== false;) {
        const step = await store.pruneDecided(before, { limit: PRUNE_STEP, ...(after !== undefined ? { after } : {}) });
        steps += 1;
        deleted += step.deleted;
        if (step.deleted > 0) this.opts.onPruned(step.deleted);
        if (step.next === null) break;
        after = step.next;
        // The memory store's steps never wait for I/O: let the submits and Results queued behind this pass in.
        await new Promise((resolve) => setImmediate(resolve));
      }
      this.opts.onPass("ok");
      log.debug(
        { deleted, steps, before: before.toISOString(), ms: Math.round(performance.now() - started) },
        "retention pass",
      );
    } catch (err) {
      this.opts.onPass("failed");
      log.warn({ err, deleted, before: before.toISOString() }, "a retention pass failed; the next pass will try again");
    }
  }
}
