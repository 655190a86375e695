import type { Bus } from "@tessera/bus";
import type { Logger } from "pino";
import type { JobStorage, OutboxEntry, OutboxSkip } from "../store/job-storage.js";
import type { JobSummary } from "../store/job-row.js";
import { inPublishSpan } from "../tracing/job-spans.js";
import type { DispatchLimiter } from "./dispatch-limiter.js";
import { DispatchRecorder } from "./dispatch-recorder.js";

/**
 * A step some entries go through before they can be published (the source stage: a source_locator job's input
 * is fetched first). The relay hands it every batch; what it keeps, it holds (the relay's outbox reads skip those
 * rows) until it hands them back ready, and they are published like any other entry.
 */
export interface PublishStage {
  holds(id: number): boolean;
  heldIds(): number[];
  /** Keeps the entries that cannot be published as they are; returns the others. */
  admit(batch: OutboxEntry[]): OutboxEntry[];
  /** Up to `max` entries it made publishable, handed over: it no longer holds them. */
  takeReady(max: number): OutboxEntry[];
  /** Its own entries the relay could not publish now (held back by a limit, or refused by the bus). */
  putBack(entries: readonly OutboxEntry[], mayHaveBeenPublished: boolean): void;
}

export interface OutboxRelayOptions {
  store: JobStorage;
  bus: Bus;
  limiter: DispatchLimiter;
  log: Logger;
  batchSize: () => number;
  /** Whether any component has per-key limits (then batches are taken fairly across keys). */
  fair: () => boolean;
  /** The components this coordinator runs; other components' outbox rows wait. */
  components: readonly string[];
  pollIntervalMs: () => number;
  /** `jobs` moved pending → queued; `published` counts every publish the bus stored. */
  onDispatched: (jobs: JobSummary[], published: number) => void;
  stage?: PublishStage;
  now?: () => number;
}

const MAX_BACKOFF_MS = 5_000;
/** Most freshly submitted jobs held for publishing from memory; past that, the outbox pass takes them. */
const MAX_FRESH = 10_000;
/**
 * Most publishes the relay lets go unrecorded before it waits for the records. Records are not waited for
 * otherwise (decision 0014), but a relay far ahead of them only grows what every outbox read must skip: on
 * the memory store publishing outran recording by 24,000 jobs over a 100,000-job backlog, and each read
 * then spent about 5 ms stepping over them.
 */
const MAX_UNRECORDED = 4_096;
/** Most outbox row ids remembered as never published (ids only); past that, such rows count as republishes. */
const MAX_UNPUBLISHED = 1_000_000;
/** Most row ids remembered as read before this process offered them (an offer follows its commit within ms). */
const MAX_READ_UNOFFERED = 10_000;

/**
 * Publishes what the outbox owes the bus. Runs until stopped: wakes on `notify()` (a submit or a
 * redrive), on the poll interval (what a restarted coordinator finds pending, jobs held by a limit), and
 * when a rate-limited key gets its next token. A publish the bus refuses is retried with backoff; the
 * row stays in the outbox, so nothing is lost while the bus is down. A crash after the publish and
 * before the row is deleted republishes the job on restart with the same dedup key, which the bus's
 * duplicate window (and the worker's Result guard after it) absorb.
 */
export class OutboxRelay {
  /**
   * Jobs this process just submitted, with their encoded envelopes, oldest first: published from memory
   * instead of being read back from the outbox and encoded again. Their outbox rows are written (the
   * submit returned), so the store stays the record: a publish that fails leaves its row to the outbox pass.
   */
  private readonly fresh = new Map<number, OutboxEntry>();
  /**
   * Outbox rows this process wrote and has not published yet, beyond what `fresh` holds: the outbox pass
   * publishes them as first publishes. Any other row it reads may have been published, and run, before (a
   * restart, a failed record), and goes out with `mayRepeat`, which makes the worker look for a Result.
   */
  private readonly unpublished = new Set<number>();
  /**
   * Outbox rows published (or being published) whose record has not finished: an outbox read skips them
   * instead of waiting for the record, which kept every job behind a database write once per pass.
   */
  private readonly inFlight = new Set<number>();
  /**
   * Rows whose publish settled while an outbox read ran (recorded, or its record failed): the read's
   * snapshot may predate their deletion, and a failed one is left to a later read, as a republish.
   */
  private settledDuringRead: Set<number> | undefined;
  /**
   * Rows an outbox read returned that this process had not been offered: a submit's row is committed before
   * its `offer()` runs, so a read in between takes it, and the offer that follows must not publish it again
   * from memory. Oldest first, at most MAX_READ_UNOFFERED.
   */
  private readonly readUnoffered = new Set<number>();
  /** Fresh jobs already taken into the batch being built (not in flight until it is published). */
  private readonly taking = new Set<number>();
  /**
   * What an outbox read leaves out: fresh jobs, taken or not, those in flight and those the stage holds; read
   * where they are, never copied.
   */
  private readonly held: OutboxSkip = {
    has: (id) =>
      this.fresh.has(id) || this.inFlight.has(id) || this.taking.has(id) || this.opts.stage?.holds(id) === true,
    ids: () => [...this.fresh.keys(), ...this.inFlight, ...this.taking, ...(this.opts.stage?.heldIds() ?? [])],
  };
  private lastOutboxPass = Number.NEGATIVE_INFINITY;
  /** Something only the outbox holds is waiting: read it on the next pass, not only when the poll interval says. */
  private outboxWanted = true;
  /** Submits overflowed what memory holds, and no outbox read has come back short since. */
  private overflowing = false;
  private wake: (() => void) | undefined;
  private pendingWake = false;
  private stopped = false;
  private failures = 0;
  private loop: Promise<void> | undefined;
  private readonly now: () => number;
  private readonly recorder: DispatchRecorder;

  constructor(private readonly opts: OutboxRelayOptions) {
    this.now = opts.now ?? Date.now;
    this.recorder = new DispatchRecorder({
      store: opts.store,
      bus: opts.bus,
      limiter: opts.limiter,
      onDispatched: opts.onDispatched,
      onSettled: (outboxId) => this.settle(outboxId),
    });
  }

  start(): void {
    this.loop ??= this.run();
  }

  /** A job this process submitted; its outbox row is committed. */
  offer(entry: OutboxEntry): void {
    // An outbox read already took it (and published it, or is publishing it).
    if (this.readUnoffered.delete(entry.id)) return;
    // With per-key limits the batch is chosen fairly in SQL, so the outbox pass takes every job. Once
    // memory is full, later submits go through the outbox too until the reads have caught up: held ones
    // would jump ahead of older jobs that only the outbox has.
    if (this.fresh.size < MAX_FRESH && !this.overflowing && !this.opts.fair()) this.fresh.set(entry.id, entry);
    else {
      if (this.unpublished.size < MAX_UNPUBLISHED) this.unpublished.add(entry.id);
      this.overflowing = true;
      this.outboxWanted = true;
    }
    this.pendingWake = true;
    this.wake?.();
  }

  /** Something was added to the outbox (a redrive) or a limit freed up: the next pass reads the outbox. */
  notify(): void {
    this.outboxWanted = true;
    this.pendingWake = true;
    this.wake?.();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    this.recorder.stop();
    await this.loop;
    await this.recorder.settled();
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      let delay: number;
      let failed = false;
      try {
        const { sent, full, nextTokenAt } = await this.relayOnce();
        this.failures = 0;
        if (full && sent > 0) continue;
        delay = this.opts.pollIntervalMs();
        if (nextTokenAt !== undefined) delay = Math.min(delay, Math.max(1, nextTokenAt - this.now()));
      } catch (err) {
        this.failures += 1;
        failed = true;
        delay = Math.min(MAX_BACKOFF_MS, 100 * 2 ** Math.min(this.failures, 6));
        this.opts.log.warn({ err, retryInMs: delay }, "outbox relay could not publish; jobs stay in the outbox");
      }
      await this.sleep(delay, !failed);
    }
  }

  /**
   * One pass: take a batch (fresh jobs from memory, or a fair batch from the outbox) and publish it in
   * parallel. What the bus stored is recorded while the next pass publishes (one record at a time), so a
   * job submitted now waits for a publish round trip, not for the previous batch's database write too.
   */
  async relayOnce(): Promise<{ sent: number; full: boolean; nextTokenAt: number | undefined }> {
    const { bus, limiter } = this.opts;
    const recordFailure = this.recorder.takeFailure();
    if (recordFailure !== undefined) throw recordFailure.err;
    if (this.inFlight.size >= MAX_UNRECORDED) await this.recorder.drain();
    const batchSize = this.opts.batchSize();
    const batch = await this.nextBatch(batchSize);
    const stage = this.opts.stage;
    const publishable = stage === undefined ? batch : stage.admit(batch);
    const taken = await limiter.acquire(publishable, this.now());
    for (const e of taken) this.inFlight.add(e.id);
    if (stage !== undefined && taken.length < publishable.length) {
      const took = new Set(taken);
      const heldBack = publishable.filter((e) => !took.has(e));
      stage.putBack(heldBack, false);
    }
    const results = await Promise.allSettled(
      taken.map((e) =>
        inPublishSpan(e, () =>
          bus.publishJob(e.envelope, {
            dedupKey: e.dedupKey,
            mayRepeat: e.mayRepeat === true,
            ...(e.encoded !== undefined ? { encoded: e.encoded } : {}),
          }),
        ),
      ),
    );
    // The wall clock, as the store's clock is: `now` is the limiter's, and a test may set it.
    const publishedAt = Date.now();
    let sent = 0;
    let firstError: unknown;
    const refused: OutboxEntry[] = [];
    results.forEach((r, i) => {
      const entry = taken[i] as OutboxEntry;
      if (r.status === "fulfilled") {
        this.recorder.add({
          outboxId: entry.id,
          jobId: entry.jobId,
          streamSeq: r.value.seq,
          publishedAt,
          component: entry.component,
        });
        sent += 1;
      } else {
        firstError ??= r.reason;
        refused.push(entry);
        this.settle(entry.id);
      }
    });
    if (refused.length > 0) {
      stage?.putBack(refused, true);
      await limiter.refund(refused).catch(() => undefined);
    }
    if (firstError !== undefined) throw firstError;
    return {
      sent,
      full: batch.length === batchSize || this.fresh.size > 0,
      nextTokenAt: limiter.blocked(this.now()).nextTokenAt,
    };
  }

  /** The row's publish is over: recorded, or left to the outbox pass (a failed publish or record). */
  private settle(outboxId: number): void {
    this.inFlight.delete(outboxId);
    this.settledDuringRead?.add(outboxId);
  }

  /**
   * Fresh jobs first: they are older than anything the outbox holds beyond them (memory overflows only when
   * full, and stays out of the way until the reads catch up). Then the outbox, when limits apply (every
   * job, chosen fairly), once per poll interval (what a restart left, a failed publish, an idle relay's
   * safety net), or when something only it holds is owed and the batch has room (an overflow, a redrive, a
   * freed limit). The read skips the rows of fresh jobs and those whose publish is not recorded yet (in
   * flight), so a job is published once, and no pass waits for the previous one's record.
   */
  private async nextBatch(batchSize: number): Promise<OutboxEntry[]> {
    const fair = this.opts.fair();
    const now = this.now();
    if (fair) this.fresh.clear();
    const batch: OutboxEntry[] = [];
    const due = fair || now - this.lastOutboxPass >= this.opts.pollIntervalMs();
    // A due read comes first, so a steady stream of fresh jobs cannot keep the outbox waiting.
    if (due) batch.push(...(await this.readOutbox(batchSize, now)));
    // Then what the stage made ready: read from the outbox (or submitted) before any fresh job still here.
    for (const entry of this.opts.stage?.takeReady(batchSize - batch.length) ?? []) {
      this.taking.add(entry.id);
      batch.push(entry);
    }
    for (const [id, entry] of this.fresh) {
      if (batch.length >= batchSize) break;
      this.fresh.delete(id);
      this.taking.add(id);
      batch.push(entry);
    }
    try {
      if (!due && this.outboxWanted && batch.length < batchSize)
        batch.push(...(await this.readOutbox(batchSize - batch.length, now)));
    } finally {
      this.taking.clear();
    }
    return batch;
  }

  private async readOutbox(limit: number, now: number): Promise<OutboxEntry[]> {
    this.lastOutboxPass = now;
    this.outboxWanted = false;
    const settled = new Set<number>();
    this.settledDuringRead = settled;
    let rows: OutboxEntry[];
    try {
      rows = await this.opts.store.nextOutboxBatch(
        limit,
        this.opts.limiter.blocked(now).keys,
        this.opts.fair(),
        this.opts.components,
        this.held,
      );
    } finally {
      this.settledDuringRead = undefined;
    }
    // A full read may have left more behind (a backlog past what memory holds): read again next pass
    // rather than one batch per poll interval. A short one got everything that was owed.
    if (rows.length >= limit) this.outboxWanted = true;
    else this.overflowing = false;
    // A submit that committed just before the read and was offered (or even published) while it ran is
    // in both, and a row settled meanwhile may still be in the read's snapshot: keep one.
    return rows
      .filter((r) => !this.held.has(r.id) && !settled.has(r.id))
      .map((r) => {
        const known = this.unpublished.delete(r.id);
        if (!known) this.rememberReadUnoffered(r.id);
        return { ...r, mayRepeat: !known };
      });
  }

  private rememberReadUnoffered(id: number): void {
    this.readUnoffered.add(id);
    if (this.readUnoffered.size <= MAX_READ_UNOFFERED) return;
    for (const oldest of this.readUnoffered) {
      this.readUnoffered.delete(oldest);
      break;
    }
  }

  /**
   * Waits `ms`, or less if `notify()` is called meanwhile (or was called during the pass that just
   * ended). After a failed pass a notify does not cut the backoff short: a submit per millisecond while
   * the bus is down must not turn the retry loop into a busy loop.
   */
  private sleep(ms: number, interruptible = true): Promise<void> {
    if (interruptible && (this.pendingWake || this.stopped)) {
      this.pendingWake = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.wake = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wake = () => {
        if (!interruptible && !this.stopped) return;
        this.pendingWake = false;
        done();
      };
    });
  }
}
