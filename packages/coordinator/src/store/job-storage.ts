import type { Job, Result } from "@tessera/contract";
import {
  JOB_STATES,
  type DeadLetterRecord,
  type JobFilter,
  type JobRecord,
  type JobState,
  type Page,
} from "../types.js";
import type { JobSummary } from "./job-row.js";

export interface NewJob {
  envelope: Job;
  /** The envelope as JSON, when the caller has it already (it is stored as is). */
  envelopeJson?: string;
  limitKey: string | null;
  idempotencyKey: string | null;
}

export interface OutboxEntry {
  id: number;
  jobId: string;
  component: string;
  limitKey: string | null;
  dedupKey: string;
  envelope: Job;
  /** The envelope's bytes on the bus, when already encoded (and validated). */
  encoded?: Uint8Array;
  /** Read back from the outbox: it may have been published (and run) before (a restart, a failed record). */
  mayRepeat?: boolean;
}

export interface Inserted {
  job: JobSummary;
  created: boolean;
  /** The new job's outbox row (when created). */
  outboxId?: number;
}

export interface Dispatched {
  outboxId: number;
  jobId: string;
  streamSeq: number;
  /**
   * When the bus stored it (epoch ms, this process's clock), if earlier than the record: the job's
   * `dispatched_at` is set that long before the store's now. A record waits for more publishes to join it.
   */
  publishedAt?: number;
}

export interface DispatchRecord {
  /** Jobs that moved pending → queued. */
  queued: JobSummary[];
  /** Jobs already decided (completed, failed or cancelled) when their publish was recorded. */
  settled: string[];
  /** The entries whose job had been cancelled: their messages are in the stream for nothing. */
  cancelled: Dispatched[];
}

export type ApplyOutcome =
  { kind: "applied"; job: JobSummary } | { kind: "duplicate"; job: JobSummary } | { kind: "unknown" };

export interface DeadLetterInput {
  jobId: string;
  component: string;
  streamSeq: number;
  deliveries: number;
  reasonCode: string;
  reasonDetail: string;
}

export type RedriveResult =
  { kind: "redriven"; job: JobRecord } | { kind: "not_found" } | { kind: "not_failed"; job: JobRecord };

export type CancelResult =
  | { kind: "cancelled"; job: JobRecord; wasQueued: boolean; streamSeq: number | null }
  | { kind: "not_found" }
  | { kind: "already_finished"; job: JobRecord };

/**
 * A Result that finished this long before the job's latest redrive still counts. `finished_at` is the
 * worker's clock and the redrive's time the store's: without slack, a worker clock a few ms behind would
 * make a redriven run's own Result look older than the redrive and leave the job queued forever. What the
 * check exists for, a stale Result of an earlier run, arrives long after its run finished.
 */
export const REDRIVE_CLOCK_TOLERANCE_MS = 5_000;

/** Separates component and limit key in the relay's blocked-key list; not a legal character in either. */
export const KEY_SEPARATOR = "\u001f";

/** How long before `now` the entry was published: 0 when not said, or said to be later. */
function publishedAgoMs(entry: Dispatched, now: number): number {
  return Math.max(0, now - (entry.publishedAt ?? now));
}

/** One job's publishes in a dispatch record. */
export interface JobDispatches {
  jobId: string;
  /** Publishes of the job in the record: each counts a dispatch. */
  count: number;
  /** The latest publish's stream position. */
  streamSeq: number;
  /** How long before `now` the latest publish was. */
  agoMs: number;
}

/**
 * A dispatch record's entries by job, in first-seen order. A job can be named twice (its first publish's record
 * waited, and it was dead-lettered, redriven and published again meanwhile): both publishes count, and the
 * latest gives its stream position and date.
 */
export function dispatchesByJob(entries: readonly Dispatched[], now: number): JobDispatches[] {
  const byJob = new Map<string, JobDispatches>();
  for (const e of entries) {
    const agoMs = publishedAgoMs(e, now);
    const seen = byJob.get(e.jobId);
    if (seen === undefined) byJob.set(e.jobId, { jobId: e.jobId, count: 1, streamSeq: e.streamSeq, agoMs });
    else {
      seen.count += 1;
      seen.streamSeq = Math.max(seen.streamSeq, e.streamSeq);
      seen.agoMs = Math.min(seen.agoMs, agoMs);
    }
  }
  return [...byJob.values()];
}

/** A job's key as limits and the relay's blocked-key list name it: a null limit key is the key "". */
export function blockedKey(component: string, limitKey: string | null): string {
  return component + KEY_SEPARATOR + (limitKey ?? "");
}

/** How many eligible outbox rows a fair read ranks, per row it may take. */
export const OUTBOX_SCAN_FACTOR = 8;

/**
 * Outbox rows a read leaves out. A view, not a copy: the relay's skip list can hold tens of thousands of
 * ids during a backlog, and copying them into a new set or array on every read cost the memory store most
 * of a read (about 6 ms each, measured at 100,000 jobs); a SQL store lists them as a parameter anyway.
 */
export interface OutboxSkip {
  has(id: number): boolean;
  ids(): number[];
}

export const SKIP_NOTHING: OutboxSkip = { has: () => false, ids: () => [] };

export interface PruneStepOptions {
  /** At most this many jobs are looked at (and so deleted) by the step. */
  limit: number;
  /** Where the pass continues: the previous step's `next`; absent for a pass's first step. */
  after?: number;
}

export interface PruneStep {
  deleted: number;
  /**
   * Where the pass continues (the SQL store's last creation position looked at; the memory store, which
   * keeps decided jobs in the order they were decided, always continues at that order's front and gives 0);
   * null when the pass has looked at every job that could be old enough.
   */
  next: number | null;
}

/**
 * What the coordinator asks of its job store. Two implementations with the same observable behaviour:
 * `SqlJobStore` (SQL, on Postgres or PGlite) and `MemoryJobStore` (plain data structures, for embedded mode
 * without a database); one contract suite (test/store/job-storage.test.ts) runs on all three. Settings and the
 * audit log have stores of their own (settings/settings-store.ts, AuditLog); what only one backend has (the
 * memory store's eviction count, PGlite's maintenance) is on its class, not here.
 *
 * State transitions are conditional (a job moves only from the states named), so applying the same fact
 * twice changes nothing the second time: that is what makes the Result consumer and the dead-letter flow
 * safe to replay. What a method returns is the caller's: changing it changes nothing stored.
 */
export interface JobStorage {
  /**
   * Records a new pending job and its outbox row. With an idempotency key that the job's component already
   * has, inserts nothing and returns the existing job (`created: false`); concurrent inserts of one key
   * create one job.
   */
  insertJob(job: NewJob): Promise<Inserted>;
  findByIdempotencyKey(component: string, key: string): Promise<JobRecord | undefined>;
  getJob(jobId: string): Promise<JobRecord | undefined>;
  /** Newest first (creation order); the cursor is the last job's position. */
  listJobs(filter?: JobFilter): Promise<Page<JobRecord>>;
  /**
   * The next publishes owed, oldest first among `components` (other components' rows wait), leaving out the
   * rows in `skip` (held or being published by the relay). When `fair`, rows are ranked within their
   * (component, limit key) and taken rank by rank, among the oldest `8 × batchSize` eligible rows, and keys
   * in `blockedKeys` (`component + KEY_SEPARATOR + (limit key ?? "")`) are skipped.
   */
  nextOutboxBatch(
    batchSize: number,
    blockedKeys: readonly string[],
    fair: boolean,
    components: readonly string[],
    skip?: OutboxSkip,
  ): Promise<OutboxEntry[]>;
  /**
   * Records published outbox rows: deletes them and counts a dispatch on their jobs (a pending job becomes
   * queued) dated at its publish. A job decided before this runs keeps its state and is reported in `settled`;
   * its publish date is set only if it had none, so a job whose Result beat the record still shows when it went out.
   */
  markDispatched(entries: readonly Dispatched[]): Promise<DispatchRecord>;
  /**
   * Records a Result. Only a job still pending or queued, of the Result's component, and not redriven after
   * the Result finished (with REDRIVE_CLOCK_TOLERANCE_MS of slack), changes; any other Result for a known
   * job only counts in `duplicateResults`. `beforeApply` (a chain hook) runs first, and only for a Result
   * that will be applied. A value the store cannot hold is refused, before anything changes, with
   * Postgres's data exception (SQLSTATE class 22 or 54) or the memory store's UnstorableValueError standing
   * for it: results/record-result.ts (isUnstorableValue) tells both.
   */
  applyResult(result: Result, beforeApply?: (job: JobRecord) => Promise<void>): Promise<ApplyOutcome>;
  /**
   * Records a dead letter (once per component and stream position) and fails its job with its reason, if the
   * job is still pending or queued and its latest dispatch is at that position. Returns the job if it failed.
   */
  recordDeadLetter(letter: DeadLetterInput): Promise<JobRecord | undefined>;
  /** failed → pending with a fresh outbox row whose dedup key (`<job id>:redrive:<n>`) the bus has not seen. */
  redrive(jobId: string): Promise<RedriveResult>;
  /** Dead-lettered jobs of a component still failed and not redriven since. */
  deadLetteredJobIds(component: string): Promise<string[]>;
  /** A job whose latest dispatch sits at this stream position (for a dead letter whose message is gone). */
  jobIdAtStreamSeq(component: string, streamSeq: number): Promise<string | undefined>;
  /** Puts every queued job back in the outbox under a fresh dedup key; returns how many. */
  requeueQueued(): Promise<number>;
  cancel(jobId: string): Promise<CancelResult>;
  listDeadLetters(filter?: { component?: string; cursor?: string; limit?: number }): Promise<Page<DeadLetterRecord>>;
  /** Job counts by component and state; components without jobs are absent. */
  countsByComponent(): Promise<Map<string, Record<JobState, number>>>;
  /**
   * Completed and failed Results of `component` finished since `since`, split by whether the instance that
   * produced them is one of its canary's (its id starts with `canaryInstancePrefix`, see `revisionOfInstance`).
   * Jobs decided without a worker's Result (no instance id) are not counted.
   */
  outcomesByRevision(component: string, canaryInstancePrefix: string, since: Date): Promise<RevisionOutcomes>;
  /** Queued jobs with a limit key: the per-key limiter's slots to restore after a restart. */
  queuedWithKeys(): Promise<{ jobId: string; component: string; limitKey: string }[]>;
  /**
   * One bounded step of retention: deletes decided jobs (completed, failed, cancelled) whose decision was
   * recorded (`updated_at`) before `before`, with what is theirs (outbox rows, dead letters), looking at no
   * more than `limit` jobs, so no step holds locks or the event loop for long. A failed job with a dead
   * letter not yet redriven is kept: it is in the DLQ, waiting for an operator. Pass `next` back as `after`
   * until it is null to finish a pass. Once a job is deleted its idempotency key is free: a submit with it
   * creates a new job.
   */
  pruneDecided(before: Date, step: PruneStepOptions): Promise<PruneStep>;
  /** True while the store can answer. */
  ping(): Promise<boolean>;
}

export function emptyCounts(): Record<JobState, number> {
  return Object.fromEntries(JOB_STATES.map((s) => [s, 0])) as Record<JobState, number>;
}

/** Results by revision: the dashboard's failure rate of a canary beside its stable revision's. */
export interface RevisionOutcomes {
  stable: { completed: number; failed: number };
  canary: { completed: number; failed: number };
}
