import type { Bus } from "@tessera/bus";
import type { Dispatched, DispatchRecord, JobStorage } from "../store/job-storage.js";
import type { JobSummary } from "../store/job-row.js";
import type { DispatchLimiter } from "./dispatch-limiter.js";

/** Most published jobs one record writes (the store's group commits write up to 1,000 rows a statement too). */
const MAX_RECORD_BATCH = 1_000;
/**
 * How long a record waits for more publishes before it writes, unless a full batch is already waiting. Nothing
 * waits for a record (a Result is applied to a pending job as to a queued one), so this costs no job time; at a
 * low rate it turns a database write per job or two into one per few dozen (decision 0046).
 */
const RECORD_LINGER_MS = 20;

/** A publish the bus stored, with its job's component (to take a cancelled one back out of its stream). */
export type Published = Dispatched & { component: string };

export interface DispatchRecorderOptions {
  store: JobStorage;
  bus: Bus;
  limiter: DispatchLimiter;
  /** `jobs` moved pending → queued; `published` counts the publishes recorded. */
  onDispatched: (jobs: JobSummary[], published: number) => void;
  /** The publish's record is over: written, or failed (its outbox row is left to the relay's outbox pass). */
  onSettled: (outboxId: number) => void;
}

/**
 * Records the relay's publishes in the store (decision 0014): in the background, one record at a time, each
 * taking everything published meanwhile. At a low rate each relay pass publishes a job or two, and a record per
 * pass (each a database write of a few ms) fell further behind with every pass; so a record takes all that
 * waits, and first waits RECORD_LINGER_MS for more.
 */
export class DispatchRecorder {
  private waiting: Published[] = [];
  /** The running record loop, until nothing is left to record. */
  private recording: Promise<void> = Promise.resolve();
  private running = false;
  private failure: { err: unknown } | undefined;
  /** Ends the linger early (on stop, when a full batch is waiting, or when the relay waits for the records). */
  private endLinger: (() => void) | undefined;
  /** Nothing will join a record (the relay waits for them, or is stopping): none lingers. */
  private hurried = false;
  private stopped = false;

  constructor(private readonly opts: DispatchRecorderOptions) {}

  /** A publish to record. */
  add(published: Published): void {
    this.waiting.push(published);
    if (this.waiting.length >= MAX_RECORD_BATCH) this.endLinger?.();
    if (this.running) return;
    this.running = true;
    this.recording = this.recordAll();
  }

  /** The first record failure since the last call, once. */
  takeFailure(): { err: unknown } | undefined {
    const failure = this.failure;
    this.failure = undefined;
    return failure;
  }

  /** Waits until everything added so far is recorded, without lingering. */
  async drain(): Promise<void> {
    this.hurried = true;
    this.endLinger?.();
    try {
      await this.recording;
    } finally {
      this.hurried = false;
    }
  }

  /** From now on no record lingers. */
  stop(): void {
    this.stopped = true;
    this.endLinger?.();
  }

  /** Resolves when everything added so far has been recorded (or has failed to be). */
  settled(): Promise<void> {
    return this.recording;
  }

  private async recordAll(): Promise<void> {
    try {
      while (this.waiting.length > 0) {
        await this.linger();
        const batch = this.waiting.splice(0, MAX_RECORD_BATCH);
        try {
          await this.record(batch);
        } catch (err) {
          this.failure ??= { err };
        } finally {
          for (const d of batch) this.opts.onSettled(d.outboxId);
        }
      }
    } finally {
      this.running = false;
    }
  }

  private linger(): Promise<void> {
    if (this.stopped || this.hurried || this.waiting.length >= MAX_RECORD_BATCH) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.endLinger?.(), RECORD_LINGER_MS);
      this.endLinger = () => {
        clearTimeout(timer);
        this.endLinger = undefined;
        resolve();
      };
    });
  }

  /** One record (the outbox rows deleted). A failure leaves the rows, published again (deduplicated) by the outbox pass. */
  private async record(dispatched: Published[]): Promise<void> {
    const { store, bus, limiter } = this.opts;
    let marked: DispatchRecord;
    try {
      marked = await store.markDispatched(dispatched);
    } catch (err) {
      for (const d of dispatched) limiter.released(d.jobId, d.component);
      throw err;
    }
    // Decided or cancelled before the publish was recorded: no slot (releasing twice is harmless), and a
    // cancelled job's message is taken back out of the stream so it does not run.
    for (const jobId of marked.settled)
      limiter.released(jobId, dispatched.find((d) => d.jobId === jobId)?.component ?? "");
    for (const c of marked.cancelled)
      await bus.removeJob(dispatched.find((d) => d.jobId === c.jobId)?.component ?? "", c.streamSeq).catch(() => false);
    this.opts.onDispatched(marked.queued, dispatched.length);
  }
}
