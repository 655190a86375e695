import type { Result } from "@tessera/contract";
import { invalidRequest } from "../errors.js";
import {
  JOB_STATES,
  type DeadLetterRecord,
  type JobFilter,
  type JobRecord,
  type JobState,
  type Page,
} from "../types.js";
import { toJobRecord, toJobSummary, type JobSummary } from "./job-row.js";
import {
  dispatchesByJob,
  SKIP_NOTHING,
  type ApplyOutcome,
  type CancelResult,
  type DeadLetterInput,
  type Dispatched,
  type DispatchRecord,
  type Inserted,
  type JobStorage,
  type NewJob,
  type OutboxEntry,
  type OutboxSkip,
  type PruneStep,
  type PruneStepOptions,
  type RedriveResult,
  type RevisionOutcomes,
} from "./job-storage.js";
import { DecidedJobs, DEFAULT_MAX_DECIDED_JOBS } from "./memory-decided-bound.js";
import { MemoryDeadLetters } from "./memory-dead-letters.js";
import { MemoryJobTable, OPEN, type MemoryJobRow } from "./memory-job-table.js";
import { MemoryOutbox } from "./memory-outbox.js";
import { isOpenFor, resultValues } from "./memory-result-values.js";
import { pageLimit } from "./paging.js";
import {
  ConstraintViolationError,
  storableInteger,
  storableJson,
  storableNullableText,
  storableText,
  storableTimestamp,
  UnstorableValueError,
} from "./storable-values.js";

export interface MemoryJobStoreOptions {
  /**
   * Decided jobs (completed, failed, cancelled) held at most: past it, the oldest decisions are deleted at the
   * end of the event loop's turn, whatever the retention setting says. Jobs in the DLQ (failed with a dead
   * letter not yet redriven) go last. Default DEFAULT_MAX_DECIDED_JOBS; Infinity for no bound.
   */
  maxDecidedJobs?: number;
}

/**
 * The job store in this process's memory, for embedded mode without a database: `SqlJobStore`'s
 * semantics statement by statement (conditional transitions, idempotency keys per component, the outbox
 * and its fair batches, dead letters, redrive, paging), without its cost: PGlite spends 300-400 µs of
 * the coordinator's CPU per job, this store about 9. Nothing survives the process, as with PGlite in memory.
 * Its tables are in memory-job-table.ts, memory-outbox.ts and memory-dead-letters.ts, the bound on decided
 * jobs in memory-decided-bound.ts; rows map to what it returns as the SQL store's do (job-row.ts).
 *
 * Every method runs to completion without yielding (but for applyResult's hook, which runs before the write
 * as it does on SQL), so each is atomic as the SQL statement or transaction it mirrors; values are checked
 * before anything changes, and what a method returns is built afresh.
 */
export class MemoryJobStore implements JobStorage {
  private readonly jobs = new MemoryJobTable();
  private readonly outbox = new MemoryOutbox();
  private readonly deadLetters = new MemoryDeadLetters();
  private readonly decided: DecidedJobs;

  constructor(opts: MemoryJobStoreOptions = {}) {
    this.decided = new DecidedJobs(
      opts.maxDecidedJobs ?? DEFAULT_MAX_DECIDED_JOBS,
      this.jobs,
      this.deadLetters,
      (row) => this.deleteJob(row),
    );
  }

  async insertJob(job: NewJob): Promise<Inserted> {
    const jobId = storableText(job.envelope.job_id);
    const component = storableText(job.envelope.component);
    const limitKey = storableNullableText(job.limitKey);
    const idempotencyKey = storableNullableText(job.idempotencyKey);
    const envelope = storableJson(job.envelopeJson ?? JSON.stringify(job.envelope));
    if (idempotencyKey !== null) {
      const existing = this.jobs.byIdempotencyKey(component, idempotencyKey);
      if (existing !== undefined) return { job: toJobRecord(existing), created: false };
    }
    if (this.jobs.has(jobId))
      throw new ConstraintViolationError("23505", 'duplicate key value violates unique constraint "tessera_jobs_pkey"');
    const row = this.jobs.insert(
      { job_id: jobId, component, limit_key: limitKey, idempotency_key: idempotencyKey, envelope },
      Date.now(),
    );
    return { job: toJobSummary(row), created: true, outboxId: this.outbox.add(row, jobId) };
  }

  async findByIdempotencyKey(component: string, key: string): Promise<JobRecord | undefined> {
    const row = this.jobs.byIdempotencyKey(storableText(component), storableText(key));
    return row === undefined ? undefined : toJobRecord(row);
  }

  async getJob(jobId: string): Promise<JobRecord | undefined> {
    const row = this.jobs.get(storableText(jobId));
    return row === undefined ? undefined : toJobRecord(row);
  }

  async listJobs(filter: JobFilter = {}): Promise<Page<JobRecord>> {
    pageLimit(filter.limit); // the SQL store's order of errors: a bad limit before a bad state
    const { state } = filter;
    if (state !== undefined && !JOB_STATES.includes(state))
      throw invalidRequest("state", `one of ${JOB_STATES.join(", ")}`, JSON.stringify(state));
    const component = filter.component === undefined ? undefined : storableText(filter.component);
    const key = filter.key === undefined ? undefined : storableText(filter.key);
    return this.jobs.page({ ...filter, component, key });
  }

  async nextOutboxBatch(
    batchSize: number,
    blockedKeys: readonly string[],
    fair: boolean,
    components: readonly string[],
    skip: OutboxSkip = SKIP_NOTHING,
  ): Promise<OutboxEntry[]> {
    if (batchSize < 0) throw new UnstorableValueError("2201W", "LIMIT must not be negative");
    return this.outbox.next(batchSize, blockedKeys, fair, components, skip);
  }

  async markDispatched(entries: readonly Dispatched[]): Promise<DispatchRecord> {
    for (const e of entries) {
      storableText(e.jobId);
      storableInteger(e.streamSeq, "bigint");
      storableInteger(e.outboxId, "bigint");
    }
    const now = Date.now();
    const before = new Map<string, JobState>();
    const queued: JobSummary[] = [];
    const settled: string[] = [];
    for (const d of dispatchesByJob(entries, now)) {
      const row = this.jobs.get(d.jobId);
      if (row === undefined) continue;
      const was = row.state;
      before.set(row.job_id, was);
      row.dispatches += d.count;
      row.stream_seq = d.streamSeq;
      if (OPEN.has(was) || row.dispatched_at === null) row.dispatched_at = now - d.agoMs;
      if (was === "pending") {
        this.jobs.setState(row, "queued");
        row.updated_at = now;
        queued.push(toJobSummary(row));
      } else if (was !== "queued") settled.push(row.job_id);
    }
    for (const e of entries) {
      const sent = this.outbox.get(e.outboxId);
      if (sent !== undefined && before.has(sent.job.job_id)) this.outbox.delete(sent);
    }
    return { queued, settled, cancelled: entries.filter((e) => before.get(e.jobId) === "cancelled") };
  }

  async applyResult(result: Result, beforeApply?: (job: JobRecord) => Promise<void>): Promise<ApplyOutcome> {
    if (beforeApply !== undefined) {
      const row = this.jobs.get(storableText(result.job_id));
      if (
        row !== undefined &&
        row.component === storableText(result.component) &&
        isOpenFor(row, storableTimestamp(result.finished_at))
      )
        await beforeApply(toJobRecord(row));
    }
    const values = resultValues(result);
    const row = this.jobs.get(values.jobId);
    if (row === undefined || row.component !== values.component) return { kind: "unknown" };
    if (!isOpenFor(row, values.finishedAt)) {
      row.duplicate_results += 1;
      return { kind: "duplicate", job: toJobSummary(row) };
    }
    if (!(JOB_STATES as readonly string[]).includes(values.status))
      throw new ConstraintViolationError(
        "23514",
        'new row for relation "tessera_jobs" violates check constraint "tessera_jobs_state_check"',
      );
    this.jobs.setState(row, values.status as JobState);
    row.attempts = values.attempt;
    row.reason_code = values.reasonCode;
    row.reason_detail = values.reasonDetail;
    row.output = values.output;
    row.instance_id = values.instanceId;
    row.duration_ms = values.durationMs;
    row.finished_at = values.finishedAt;
    row.updated_at = Date.now();
    this.outbox.clear(row);
    const summary = toJobSummary(row);
    this.decided.record(row, false);
    return { kind: "applied", job: summary };
  }

  async recordDeadLetter(letter: DeadLetterInput): Promise<JobRecord | undefined> {
    const dead = {
      component: storableText(letter.component),
      stream_seq: storableInteger(letter.streamSeq, "bigint"),
      job_id: storableText(letter.jobId),
      deliveries: storableInteger(letter.deliveries, "integer"),
      reason_code: storableText(letter.reasonCode),
      reason_detail: storableText(letter.reasonDetail),
    };
    const now = Date.now();
    const known = this.deadLetters.record(dead, now);
    const row = this.jobs.get(dead.job_id);
    // A stale advisory (an older stream position than the job's latest dispatch) must not fail a newer run,
    // nor a replay of a letter already redriven, before the redriven run's publish is recorded.
    if (
      row === undefined ||
      row.component !== dead.component ||
      !OPEN.has(row.state) ||
      (row.stream_seq !== null && row.stream_seq !== dead.stream_seq)
    )
      return undefined;
    if (known?.redriven_at !== undefined && known.redriven_at !== null) return undefined;
    this.jobs.setState(row, "failed");
    row.reason_code = dead.reason_code;
    row.reason_detail = dead.reason_detail;
    row.attempts = dead.deliveries;
    row.finished_at = now;
    row.updated_at = now;
    this.outbox.clear(row);
    const record = toJobRecord(row);
    this.decided.record(row, true);
    return record;
  }

  async redrive(jobId: string): Promise<RedriveResult> {
    const row = this.jobs.get(storableText(jobId));
    if (row === undefined) return { kind: "not_found" };
    if (row.state !== "failed") return { kind: "not_failed", job: toJobRecord(row) };
    const now = Date.now();
    this.jobs.setState(row, "pending");
    this.decided.undecided(row);
    row.redrives += 1;
    row.redriven_at = now;
    row.reason_code = null;
    row.reason_detail = null;
    row.output = null;
    row.instance_id = null;
    row.duration_ms = null;
    row.finished_at = null;
    row.updated_at = now;
    this.outbox.add(row, `${row.job_id}:redrive:${row.redrives}`);
    this.deadLetters.redriven(row.job_id, now);
    return { kind: "redriven", job: toJobRecord(row) };
  }

  async deadLetteredJobIds(component: string): Promise<string[]> {
    return this.deadLetters.awaitingRedriveOf(storableText(component), (jobId) => this.jobs.get(jobId)?.state);
  }

  async jobIdAtStreamSeq(component: string, streamSeq: number): Promise<string | undefined> {
    const seq = storableInteger(streamSeq, "bigint");
    return this.jobs.atStreamSeq(storableText(component), seq)?.job_id;
  }

  async requeueQueued(): Promise<number> {
    const now = Date.now();
    let requeued = 0;
    for (const row of this.jobs.rows) {
      if (row.deleted || row.state !== "queued") continue;
      this.jobs.setState(row, "pending");
      row.updated_at = now;
      this.outbox.add(row, `${row.job_id}:restart:${row.dispatches}`);
      requeued += 1;
    }
    return requeued;
  }

  async cancel(jobId: string): Promise<CancelResult> {
    const row = this.jobs.get(storableText(jobId));
    if (row === undefined) return { kind: "not_found" };
    if (!OPEN.has(row.state)) return { kind: "already_finished", job: toJobRecord(row) };
    const wasQueued = row.state === "queued";
    const now = Date.now();
    this.jobs.setState(row, "cancelled");
    row.reason_code = "cancelled";
    row.finished_at = now;
    row.updated_at = now;
    this.outbox.clear(row);
    const outcome: CancelResult = { kind: "cancelled", job: toJobRecord(row), wasQueued, streamSeq: row.stream_seq };
    this.decided.record(row, false);
    return outcome;
  }

  async listDeadLetters(
    filter: { component?: string; cursor?: string; limit?: number } = {},
  ): Promise<Page<DeadLetterRecord>> {
    const component = filter.component === undefined ? undefined : storableText(filter.component);
    return this.deadLetters.page({ ...filter, component });
  }

  async countsByComponent(): Promise<Map<string, Record<JobState, number>>> {
    return this.jobs.countsByComponent();
  }

  async outcomesByRevision(component: string, canaryInstancePrefix: string, since: Date): Promise<RevisionOutcomes> {
    const out: RevisionOutcomes = { stable: { completed: 0, failed: 0 }, canary: { completed: 0, failed: 0 } };
    const from = since.getTime();
    for (const row of this.jobs.rows) {
      if (row.deleted || row.component !== component || row.instance_id === null) continue;
      if (row.state !== "completed" && row.state !== "failed") continue;
      if (row.finished_at === null || row.finished_at < from) continue;
      out[row.instance_id.startsWith(canaryInstancePrefix) ? "canary" : "stable"][row.state] += 1;
    }
    return out;
  }

  async queuedWithKeys(): Promise<{ jobId: string; component: string; limitKey: string }[]> {
    return this.jobs.queuedWithKeys();
  }

  /** The SQL store's step, in decision order (DecidedJobs.prune). */
  async pruneDecided(before: Date, step: PruneStepOptions): Promise<PruneStep> {
    const cutoff = before.getTime();
    if (Number.isNaN(cutoff))
      throw new UnstorableValueError("22007", "invalid input syntax for type timestamp with time zone");
    if (step.limit < 0) throw new UnstorableValueError("2201W", "LIMIT must not be negative");
    const { deleted, more } = this.decided.prune(cutoff, step.limit);
    return { deleted, next: more ? 0 : null };
  }

  /** Decided jobs deleted to stay within `maxDecidedJobs` since the store was created. */
  evictedJobs(): number {
    return this.decided.evicted;
  }

  async ping(): Promise<boolean> {
    return true;
  }

  /** What retention's DELETE does to a job's rows: the job, its keys and counts, its outbox rows and dead letters. */
  private deleteJob(row: MemoryJobRow): void {
    this.decided.undecided(row);
    this.jobs.delete(row);
    this.outbox.clear(row);
    this.deadLetters.deleteOfJob(row.job_id);
  }
}
