import { chainParentOf } from "../chain-key.js";
import { invalidRequest } from "../errors.js";
import { DecisionOrder } from "./decision-order.js";
import type { MemoryDeadLetters } from "./memory-dead-letters.js";
import { OPEN, type MemoryJobRow, type MemoryJobTable } from "./memory-job-table.js";

/**
 * Decided jobs the memory store holds at most, by default: about 10 MB at the 944 bytes a job of 256 B
 * input costs (decision 0017), and so a bound on memory at any rate, where retention by time alone would
 * hold 72 million jobs an hour at 20,000 jobs/s.
 */
export const DEFAULT_MAX_DECIDED_JOBS = 10_000;

/** Decisions past the bound one turn of the event loop may add before they are evicted at once (record). */
const EVICTION_SLACK = 1_024;

/**
 * The memory store's decided jobs (completed, failed, cancelled) in the order they were decided, for
 * retention, which deletes the oldest decisions first, and for the bound on how many are held: past
 * `maxDecidedJobs`, the oldest decisions are deleted at the end of the event loop's turn, whatever the
 * retention setting says, the jobs in the DLQ last.
 */
export class DecidedJobs {
  /** Decided jobs retention may delete, oldest decision first: a pass stops at the first one too young. */
  private readonly decided = new DecisionOrder<MemoryJobRow>();
  /** Decided jobs in the DLQ (failed, a dead letter not yet redriven): kept until redriven, or the bound needs room. */
  private readonly inDlq = new DecisionOrder<MemoryJobRow>();
  private readonly maxDecidedJobs: number;
  private evictedCount = 0;
  private evictionScheduled = false;
  private lastDecided: MemoryJobRow | null = null;

  constructor(
    maxDecidedJobs: number,
    private readonly jobs: MemoryJobTable,
    private readonly deadLetters: MemoryDeadLetters,
    /** Deletes the job with what is its, as retention does. */
    private readonly deleteJob: (row: MemoryJobRow) => void,
  ) {
    if (maxDecidedJobs !== Infinity && (!Number.isInteger(maxDecidedJobs) || maxDecidedJobs < 1))
      throw invalidRequest(
        "maxDecidedJobs",
        "an integer of at least 1, or Infinity for no bound",
        JSON.stringify(maxDecidedJobs),
      );
    this.maxDecidedJobs = maxDecidedJobs;
  }

  /** Decided jobs deleted to stay within the bound so far. */
  get evicted(): number {
    return this.evictedCount;
  }

  /**
   * Files a job just decided (in the DLQ's order when `inDlq`); past the bound, the oldest decisions are
   * deleted at the end of this turn of the event loop (and at once down to EVICTION_SLACK over, should one
   * turn decide more). Not at once: the coordinator tells a job's waiters after the store call returns, and
   * one delivery of many Results records them all first, so an eviction at once would delete a job before
   * its waiter reads it.
   */
  record(row: MemoryJobRow, inDlq: boolean): void {
    (inDlq ? this.inDlq : this.decided).append(row);
    this.lastDecided = row;
    const over = this.decided.size + this.inDlq.size - this.maxDecidedJobs;
    if (over <= 0) return;
    // Past the slack, down to the slack at once: the turn's latest decisions stay for their waiters.
    if (over > EVICTION_SLACK) this.evict(row, EVICTION_SLACK);
    if (!this.evictionScheduled) {
      this.evictionScheduled = true;
      setImmediate(() => {
        this.evictionScheduled = false;
        this.evict(this.lastDecided, 0);
      }).unref();
    }
  }

  /** A job no longer decided (redriven): out of either order. */
  undecided(row: MemoryJobRow): void {
    row.inOrder?.remove(row);
  }

  /**
   * Retention's step, in decision order: the oldest decisions first, up to the first one recorded at or after
   * `cutoff` (epoch ms), at most `limit` looked at. A job in the DLQ moves to the DLQ's own order instead, so
   * it is not looked at again. `more`: a decision before the cutoff is left.
   */
  prune(cutoff: number, limit: number): { deleted: number; more: boolean } {
    let deleted = 0;
    for (
      let looked = 0, row = this.decided.oldest();
      row !== null && row.updated_at < cutoff && looked < limit;
      looked++, row = this.decided.oldest()
    ) {
      if (this.awaitsRedrive(row)) this.inDlq.append(row);
      else {
        this.deleteJob(row);
        deleted += 1;
      }
    }
    const next = this.decided.oldest();
    return { deleted, more: next !== null && next.updated_at < cutoff };
  }

  /**
   * Deletes the oldest decisions past the bound (and `allowance` more): the DLQ's last, never `keep` (the
   * latest decision), and no job a completion hook submitted while its parent is still open (the
   * hook may run again, and must find the child by its key rather than submit it twice). When only such
   * jobs are left, the bound waits for their parents.
   */
  private evict(keep: MemoryJobRow | null, allowance: number): void {
    let held = 0;
    while (this.decided.size + this.inDlq.size > this.maxDecidedJobs + allowance) {
      const oldest = this.decided.oldest();
      let candidate = oldest === keep ? null : oldest;
      if (candidate !== null && this.awaitsRedrive(candidate)) {
        this.inDlq.append(candidate);
        continue;
      }
      if (candidate !== null && this.parentOpen(candidate)) {
        if (held < this.decided.size) {
          this.decided.append(candidate);
          held += 1;
          continue;
        }
        candidate = null;
      }
      const victim = candidate ?? this.inDlq.oldest();
      if (victim === null || victim === keep) return;
      this.deleteJob(victim);
      this.evictedCount += 1;
    }
  }

  /** In the DLQ: failed, with a dead letter not yet redriven (what `deadLetteredJobIds` lists). */
  private awaitsRedrive(row: MemoryJobRow): boolean {
    return row.state === "failed" && this.deadLetters.awaitingRedrive(row.job_id);
  }

  /** A job submitted by a completion hook whose parent is still pending or queued. */
  private parentOpen(row: MemoryJobRow): boolean {
    const parent = row.idempotency_key === null ? undefined : chainParentOf(row.idempotency_key, row.component);
    if (parent === undefined) return false;
    const state = this.jobs.get(parent)?.state;
    return state !== undefined && OPEN.has(state);
  }
}
