import type { Job, Result } from "@tessera/contract";
import { chainParentOf } from "../chain-key.js";
import { invalidRequest } from "../errors.js";
import {
  JOB_STATES,
  type DeadLetterRecord,
  type JobFilter,
  type JobRecord,
  type JobState,
  type Page,
} from "../types.js";
import type { JobSummary } from "./job-row.js";
import {
  blockedKey,
  emptyCounts,
  OUTBOX_SCAN_FACTOR,
  REDRIVE_CLOCK_TOLERANCE_MS,
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
} from "./job-storage.js";
import { DecisionOrder, type Ordered } from "./decision-order.js";
import { pageLimit, pageNewestFirst } from "./paging.js";
import {
  jsonText,
  ConstraintViolationError,
  storableInteger,
  storableJson,
  storableNullableText,
  storableText,
  storableTimestamp,
  UnstorableValueError,
} from "./storable-values.js";
import { TombstoneList } from "./tombstone-list.js";

/**
 * Decided jobs the memory store holds at most, by default: about 10 MB at the 944 bytes a job of 256 B
 * input costs (decision 0017), and so a bound on memory at any rate, where retention by time alone would
 * hold 72 million jobs an hour at 20,000 jobs/s.
 */
export const DEFAULT_MAX_DECIDED_JOBS = 10_000;

/** Decisions past the bound one turn of the event loop may add before they are evicted at once (decidedNow). */
const EVICTION_SLACK = 1_024;

export interface MemoryJobStoreOptions {
  /**
   * Decided jobs (completed, failed, cancelled) held at most: past it, the oldest decisions are deleted at the
   * end of the event loop's turn (decidedNow), whatever the retention setting says. Jobs in the DLQ (failed with a dead letter not
   * yet redriven) go last. Default DEFAULT_MAX_DECIDED_JOBS; Infinity for no bound.
   */
  maxDecidedJobs?: number;
}

/** One job as held: the SQL row's columns, timestamps as epoch ms, jsonb columns as their JSON text. */
interface JobRow extends Ordered<JobRow> {
  readonly seq: number;
  readonly jobId: string;
  readonly component: string;
  state: JobState;
  readonly limitKey: string | null;
  readonly idempotencyKey: string | null;
  /** Emptied when the job is deleted: its tombstone stays in the listings' arrays for a while. */
  envelope: string;
  attempts: number;
  dispatches: number;
  redrives: number;
  reasonCode: string | null;
  reasonDetail: string | null;
  output: string | null;
  instanceId: string | null;
  durationMs: number | null;
  duplicateResults: number;
  streamSeq: number | null;
  readonly createdAt: number;
  dispatchedAt: number | null;
  redrivenAt: number | null;
  finishedAt: number | null;
  updatedAt: number;
  /** Its rows in the outbox (the SQL store's index on tessera_outbox.job_id): rarely more than one. */
  readonly outbox: number[];
  /** Deleted by retention: a tombstone in the listings' arrays until they are compacted. */
  deleted: boolean;
}

interface OutboxRow {
  readonly id: number;
  readonly job: JobRow;
  readonly dedupKey: string;
}

interface DeadLetterRow {
  readonly seq: number;
  readonly component: string;
  readonly streamSeq: number;
  readonly jobId: string;
  readonly deliveries: number;
  readonly reasonCode: string;
  readonly reasonDetail: string;
  readonly deadLetteredAt: number;
  redrivenAt: number | null;
  deleted: boolean;
}

/** A Result's columns, checked as the SQL store's statement checks its parameters: all of them, before anything changes. */
interface ResultValues {
  jobId: string;
  component: string;
  status: string;
  attempt: number;
  reasonCode: string | null;
  reasonDetail: string | null;
  output: string | null;
  instanceId: string | null;
  durationMs: number | null;
  finishedAt: number;
}

const utf8 = new TextEncoder();
const OPEN: ReadonlySet<JobState> = new Set(["pending", "queued"]);

const iso = (ms: number): string => new Date(ms).toISOString();
const isoOrNull = (ms: number | null): string | null => (ms === null ? null : iso(ms));

/**
 * The job store in this process's memory, for embedded mode without a database: `SqlJobStore`'s
 * semantics statement by statement (conditional transitions, idempotency keys per component, the outbox
 * and its fair batches, dead letters, redrive, paging), without its cost: PGlite spends 300-400 µs of
 * the coordinator's CPU per job, this store about 9. Nothing survives the process, as with PGlite in memory.
 *
 * Every method runs to completion without yielding (but for applyResult's hook, which runs before the write
 * as it does on SQL), so each is atomic as the SQL statement or transaction it mirrors; values are checked
 * before anything changes, and what a method returns is built afresh.
 */
export class MemoryJobStore implements JobStorage {
  private readonly jobs = new Map<string, JobRow>();
  /** Every job in creation (seq) order, and the same per component: the listings' order. */
  private readonly bySeq = new TombstoneList<JobRow>(isDeleted);
  private readonly byComponent = new Map<string, TombstoneList<JobRow>>();
  /** Decided jobs retention may delete, oldest decision first: a pass stops at the first one too young. */
  private readonly decided = new DecisionOrder<JobRow>();
  /** Decided jobs in the DLQ (failed, a dead letter not yet redriven): kept until redriven, or the bound needs room. */
  private readonly inDlq = new DecisionOrder<JobRow>();
  private readonly maxDecidedJobs: number;
  private evicted = 0;
  private evictionScheduled = false;
  private lastDecided: JobRow | null = null;
  private readonly idempotency = new Map<string, Map<string, JobRow>>();
  private readonly counts = new Map<string, Record<JobState, number>>();
  /** By id; ids only grow and rows are only appended, so iteration is id order. */
  private readonly outbox = new Map<number, OutboxRow>();
  /**
   * The same rows by blocked key (`blockedKey()`), each in id order: a fair
   * read merges the unblocked keys' queues instead of stepping over every row of a blocked key's backlog
   * (20 ms a read behind 199,000 blocked rows, measured, and every keyed completion asks for a read).
   */
  private readonly outboxByKey = new Map<string, { component: string; rows: Map<number, OutboxRow> }>();
  private readonly deadLetters = new TombstoneList<DeadLetterRow>(isDeleted);
  private readonly deadLetterKeys = new Map<string, Map<number, DeadLetterRow>>();
  private readonly deadLettersByJob = new Map<string, DeadLetterRow[]>();
  private jobSeq = 0;
  private outboxSeq = 0;
  private deadLetterSeq = 0;

  constructor(opts: MemoryJobStoreOptions = {}) {
    const max = opts.maxDecidedJobs ?? DEFAULT_MAX_DECIDED_JOBS;
    if (max !== Infinity && (!Number.isInteger(max) || max < 1))
      throw invalidRequest("maxDecidedJobs", "an integer of at least 1, or Infinity for no bound", JSON.stringify(max));
    this.maxDecidedJobs = max;
  }

  async insertJob(job: NewJob): Promise<Inserted> {
    const jobId = storableText(job.envelope.job_id);
    const component = storableText(job.envelope.component);
    const limitKey = storableNullableText(job.limitKey);
    const idempotencyKey = storableNullableText(job.idempotencyKey);
    const envelope = storableJson(job.envelopeJson ?? JSON.stringify(job.envelope));
    if (idempotencyKey !== null) {
      const existing = this.idempotency.get(component)?.get(idempotencyKey);
      if (existing !== undefined) return { job: toRecord(existing), created: false };
    }
    if (this.jobs.has(jobId))
      throw new ConstraintViolationError("23505", 'duplicate key value violates unique constraint "tessera_jobs_pkey"');
    const now = Date.now();
    const row: JobRow = {
      seq: ++this.jobSeq,
      jobId,
      component,
      state: "pending",
      limitKey,
      idempotencyKey,
      envelope,
      attempts: 0,
      dispatches: 0,
      redrives: 0,
      reasonCode: null,
      reasonDetail: null,
      output: null,
      instanceId: null,
      durationMs: null,
      duplicateResults: 0,
      streamSeq: null,
      createdAt: now,
      dispatchedAt: null,
      redrivenAt: null,
      finishedAt: null,
      updatedAt: now,
      outbox: [],
      deleted: false,
      older: null,
      newer: null,
      inOrder: null,
    };
    this.jobs.set(jobId, row);
    this.bySeq.push(row);
    let ofComponent = this.byComponent.get(component);
    if (ofComponent === undefined)
      this.byComponent.set(component, (ofComponent = new TombstoneList<JobRow>(isDeleted)));
    ofComponent.push(row);
    if (idempotencyKey !== null) {
      let keys = this.idempotency.get(component);
      if (keys === undefined) this.idempotency.set(component, (keys = new Map()));
      keys.set(idempotencyKey, row);
    }
    this.count(row, undefined, "pending");
    return { job: toSummary(row), created: true, outboxId: this.addOutbox(row, jobId) };
  }

  async findByIdempotencyKey(component: string, key: string): Promise<JobRecord | undefined> {
    const row = this.idempotency.get(storableText(component))?.get(storableText(key));
    return row === undefined ? undefined : toRecord(row);
  }

  async getJob(jobId: string): Promise<JobRecord | undefined> {
    const row = this.jobs.get(storableText(jobId));
    return row === undefined ? undefined : toRecord(row);
  }

  async listJobs(filter: JobFilter = {}): Promise<Page<JobRecord>> {
    pageLimit(filter.limit); // the SQL store's order of errors: a bad limit before a bad state
    const { state } = filter;
    if (state !== undefined && !JOB_STATES.includes(state))
      throw invalidRequest("state", `one of ${JOB_STATES.join(", ")}`, JSON.stringify(state));
    const component = filter.component === undefined ? undefined : storableText(filter.component);
    const key = filter.key === undefined ? undefined : storableText(filter.key);
    const rows = component === undefined ? this.bySeq.rows : (this.byComponent.get(component)?.rows ?? []);
    return pageNewestFirst(
      rows,
      (r) => r.seq,
      filter,
      "p",
      (r) => !r.deleted && (state === undefined || r.state === state) && (key === undefined || r.limitKey === key),
      toRecord,
    );
  }

  async nextOutboxBatch(
    batchSize: number,
    blockedKeys: readonly string[],
    fair: boolean,
    components: readonly string[],
    skip: OutboxSkip = SKIP_NOTHING,
  ): Promise<OutboxEntry[]> {
    if (batchSize < 0) throw new UnstorableValueError("2201W", "LIMIT must not be negative");
    const wanted = new Set(components);
    const blocked = new Set(fair ? blockedKeys : []);
    const limit = fair ? batchSize * OUTBOX_SCAN_FACTOR : batchSize;
    const eligible = fair ? this.oldestUnblocked(limit, wanted, blocked, skip) : this.oldest(limit, wanted, skip);
    if (!fair) return eligible.map(toOutboxEntry);
    // Rank within (component, limit key), as row_number() over that partition does: a null key is a
    // partition of its own, apart from "" (although both are the blocked key "").
    const ranks = new Map<string, Map<string | null, number>>();
    const ranked = eligible.map((row) => {
      let ofComponent = ranks.get(row.job.component);
      if (ofComponent === undefined) ranks.set(row.job.component, (ofComponent = new Map()));
      const rank = (ofComponent.get(row.job.limitKey) ?? 0) + 1;
      ofComponent.set(row.job.limitKey, rank);
      return { row, rank };
    });
    // A stable sort of rows in id order: rank first, then id.
    ranked.sort((a, b) => a.rank - b.rank);
    return ranked.slice(0, batchSize).map((r) => toOutboxEntry(r.row));
  }

  async markDispatched(entries: readonly Dispatched[]): Promise<DispatchRecord> {
    const ids = entries.map((e) => storableText(e.jobId));
    const seqs = entries.map((e) => storableInteger(e.streamSeq, "bigint"));
    for (const e of entries) storableInteger(e.outboxId, "bigint");
    const now = Date.now();
    const before = new Map<string, JobState>();
    const queued: JobSummary[] = [];
    const settled: string[] = [];
    entries.forEach((_, i) => {
      const row = this.jobs.get(ids[i] as string);
      // A job named twice is updated once, as one UPDATE ... FROM updates a row once.
      if (row === undefined || before.has(row.jobId)) return;
      const was = row.state;
      before.set(row.jobId, was);
      row.dispatches += 1;
      row.streamSeq = seqs[i] as number;
      if (OPEN.has(was)) row.dispatchedAt = now;
      if (was === "pending") {
        this.setState(row, "queued");
        row.updatedAt = now;
        queued.push(toSummary(row));
      } else if (was !== "queued") settled.push(row.jobId);
    });
    for (const e of entries) {
      const sent = this.outbox.get(e.outboxId);
      if (sent !== undefined && before.has(sent.job.jobId)) this.deleteOutbox(sent);
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
        await beforeApply(toRecord(row));
    }
    const values = resultValues(result);
    const row = this.jobs.get(values.jobId);
    if (row === undefined || row.component !== values.component) return { kind: "unknown" };
    if (!isOpenFor(row, values.finishedAt)) {
      row.duplicateResults += 1;
      return { kind: "duplicate", job: toSummary(row) };
    }
    if (!(JOB_STATES as readonly string[]).includes(values.status))
      throw new ConstraintViolationError(
        "23514",
        'new row for relation "tessera_jobs" violates check constraint "tessera_jobs_state_check"',
      );
    this.setState(row, values.status as JobState);
    row.attempts = values.attempt;
    row.reasonCode = values.reasonCode;
    row.reasonDetail = values.reasonDetail;
    row.output = values.output;
    row.instanceId = values.instanceId;
    row.durationMs = values.durationMs;
    row.finishedAt = values.finishedAt;
    row.updatedAt = Date.now();
    this.clearOutbox(row);
    const summary = toSummary(row);
    this.decidedNow(row, this.decided);
    return { kind: "applied", job: summary };
  }

  async recordDeadLetter(letter: DeadLetterInput): Promise<JobRecord | undefined> {
    const component = storableText(letter.component);
    const streamSeq = storableInteger(letter.streamSeq, "bigint");
    const jobId = storableText(letter.jobId);
    const deliveries = storableInteger(letter.deliveries, "integer");
    const reasonCode = storableText(letter.reasonCode);
    const reasonDetail = storableText(letter.reasonDetail);
    const now = Date.now();
    let atSeq = this.deadLetterKeys.get(component);
    if (atSeq === undefined) this.deadLetterKeys.set(component, (atSeq = new Map()));
    const known = atSeq.get(streamSeq);
    if (known === undefined) {
      const dead: DeadLetterRow = {
        seq: ++this.deadLetterSeq,
        component,
        streamSeq,
        jobId,
        deliveries,
        reasonCode,
        reasonDetail,
        deadLetteredAt: now,
        redrivenAt: null,
        deleted: false,
      };
      atSeq.set(streamSeq, dead);
      this.deadLetters.push(dead);
      const ofJob = this.deadLettersByJob.get(jobId);
      if (ofJob === undefined) this.deadLettersByJob.set(jobId, [dead]);
      else ofJob.push(dead);
    }
    const row = this.jobs.get(jobId);
    // A stale advisory (an older stream position than the job's latest dispatch) must not fail a newer run,
    // nor a replay of a letter already redriven, before the redriven run's publish is recorded.
    if (
      row === undefined ||
      row.component !== component ||
      !OPEN.has(row.state) ||
      (row.streamSeq !== null && row.streamSeq !== streamSeq)
    )
      return undefined;
    if (known?.redrivenAt !== undefined && known.redrivenAt !== null) return undefined;
    this.setState(row, "failed");
    row.reasonCode = reasonCode;
    row.reasonDetail = reasonDetail;
    row.attempts = deliveries;
    row.finishedAt = now;
    row.updatedAt = now;
    this.clearOutbox(row);
    const record = toRecord(row);
    this.decidedNow(row, this.inDlq);
    return record;
  }

  async redrive(jobId: string): Promise<RedriveResult> {
    const row = this.jobs.get(storableText(jobId));
    if (row === undefined) return { kind: "not_found" };
    if (row.state !== "failed") return { kind: "not_failed", job: toRecord(row) };
    const now = Date.now();
    this.setState(row, "pending");
    row.inOrder?.remove(row);
    row.redrives += 1;
    row.redrivenAt = now;
    row.reasonCode = null;
    row.reasonDetail = null;
    row.output = null;
    row.instanceId = null;
    row.durationMs = null;
    row.finishedAt = null;
    row.updatedAt = now;
    this.addOutbox(row, `${row.jobId}:redrive:${row.redrives}`);
    for (const dead of this.deadLettersByJob.get(row.jobId) ?? []) dead.redrivenAt ??= now;
    return { kind: "redriven", job: toRecord(row) };
  }

  async deadLetteredJobIds(component: string): Promise<string[]> {
    const wanted = storableText(component);
    const ids = new Set<string>();
    for (const dead of this.deadLetters.rows) {
      if (
        !dead.deleted &&
        dead.component === wanted &&
        dead.redrivenAt === null &&
        this.jobs.get(dead.jobId)?.state === "failed"
      )
        ids.add(dead.jobId);
    }
    return [...ids];
  }

  async jobIdAtStreamSeq(component: string, streamSeq: number): Promise<string | undefined> {
    const seq = storableInteger(streamSeq, "bigint");
    // Only for a dead letter whose message is gone: rare enough for a scan, which keeps the dispatch record
    // free of an index it would maintain for every job. Newest first, where the SQL store names any match.
    const rows = this.byComponent.get(storableText(component))?.rows ?? [];
    for (let i = rows.length - 1; i >= 0; i--) {
      const row = rows[i] as JobRow;
      if (!row.deleted && row.streamSeq === seq) return row.jobId;
    }
    return undefined;
  }

  async requeueQueued(): Promise<number> {
    const now = Date.now();
    let requeued = 0;
    for (const row of this.bySeq.rows) {
      if (row.deleted || row.state !== "queued") continue;
      this.setState(row, "pending");
      row.updatedAt = now;
      this.addOutbox(row, `${row.jobId}:restart:${row.dispatches}`);
      requeued += 1;
    }
    return requeued;
  }

  async cancel(jobId: string): Promise<CancelResult> {
    const row = this.jobs.get(storableText(jobId));
    if (row === undefined) return { kind: "not_found" };
    if (!OPEN.has(row.state)) return { kind: "already_finished", job: toRecord(row) };
    const wasQueued = row.state === "queued";
    const now = Date.now();
    this.setState(row, "cancelled");
    row.reasonCode = "cancelled";
    row.finishedAt = now;
    row.updatedAt = now;
    this.clearOutbox(row);
    const outcome: CancelResult = { kind: "cancelled", job: toRecord(row), wasQueued, streamSeq: row.streamSeq };
    this.decidedNow(row, this.decided);
    return outcome;
  }

  async listDeadLetters(
    filter: { component?: string; cursor?: string; limit?: number } = {},
  ): Promise<Page<DeadLetterRecord>> {
    const component = filter.component === undefined ? undefined : storableText(filter.component);
    return pageNewestFirst(
      this.deadLetters.rows,
      (d) => d.seq,
      filter,
      "p",
      (d) => !d.deleted && (component === undefined || d.component === component),
      toDeadLetterRecord,
    );
  }

  async countsByComponent(): Promise<Map<string, Record<JobState, number>>> {
    return new Map([...this.counts].map(([component, counts]) => [component, { ...counts }]));
  }

  async queuedWithKeys(): Promise<{ jobId: string; component: string; limitKey: string }[]> {
    const out: { jobId: string; component: string; limitKey: string }[] = [];
    for (const row of this.bySeq.rows)
      if (!row.deleted && row.state === "queued" && row.limitKey !== null)
        out.push({ jobId: row.jobId, component: row.component, limitKey: row.limitKey });
    return out;
  }

  /**
   * The SQL store's step, in decision order: the oldest decisions first, up to the first one recorded at or
   * after `before`. A job in the DLQ moves to the DLQ's own order instead, so it is not looked at again.
   */
  async pruneDecided(before: Date, step: PruneStepOptions): Promise<PruneStep> {
    const cutoff = before.getTime();
    if (Number.isNaN(cutoff))
      throw new UnstorableValueError("22007", "invalid input syntax for type timestamp with time zone");
    if (step.limit < 0) throw new UnstorableValueError("2201W", "LIMIT must not be negative");
    let deleted = 0;
    for (
      let looked = 0, row = this.decided.oldest();
      row !== null && row.updatedAt < cutoff && looked < step.limit;
      looked++, row = this.decided.oldest()
    ) {
      if (this.awaitsRedrive(row)) this.inDlq.append(row);
      else {
        this.deleteJob(row);
        deleted += 1;
      }
    }
    const next = this.decided.oldest();
    return { deleted, next: next !== null && next.updatedAt < cutoff ? 0 : null };
  }

  /** Decided jobs deleted to stay within `maxDecidedJobs` since the store was created. */
  evictedJobs(): number {
    return this.evicted;
  }

  async ping(): Promise<boolean> {
    return true;
  }

  /** The oldest `limit` outbox rows of the wanted components, but the skipped ones. */
  private oldest(limit: number, wanted: ReadonlySet<string>, skip: OutboxSkip): OutboxRow[] {
    const rows: OutboxRow[] = [];
    for (const row of this.outbox.values()) {
      if (rows.length >= limit) break;
      if (wanted.has(row.job.component) && !skip.has(row.id)) rows.push(row);
    }
    return rows;
  }

  /** The same among keys that are not blocked: a merge, oldest first, of each unblocked key's queue. */
  private oldestUnblocked(
    limit: number,
    wanted: ReadonlySet<string>,
    blocked: ReadonlySet<string>,
    skip: OutboxSkip,
  ): OutboxRow[] {
    const next = (it: Iterator<OutboxRow>): OutboxRow | undefined => {
      for (let r = it.next(); r.done !== true; r = it.next()) if (!skip.has(r.value.id)) return r.value;
      return undefined;
    };
    const heads = new MinHeap<{ row: OutboxRow; rest: Iterator<OutboxRow> }>((a, b) => a.row.id - b.row.id);
    for (const [key, queue] of this.outboxByKey) {
      if (!wanted.has(queue.component) || blocked.has(key)) continue;
      const rest = queue.rows.values();
      const row = next(rest);
      if (row !== undefined) heads.push({ row, rest });
    }
    const rows: OutboxRow[] = [];
    for (let head = heads.peek(); head !== undefined && rows.length < limit; head = heads.peek()) {
      rows.push(head.row);
      const row = next(head.rest);
      if (row === undefined) heads.pop();
      else heads.replaceTop({ row, rest: head.rest });
    }
    return rows;
  }

  private addOutbox(job: JobRow, dedupKey: string): number {
    const id = ++this.outboxSeq;
    const row = { id, job, dedupKey };
    this.outbox.set(id, row);
    const key = blockedKey(job.component, job.limitKey);
    let queue = this.outboxByKey.get(key);
    if (queue === undefined) this.outboxByKey.set(key, (queue = { component: job.component, rows: new Map() }));
    queue.rows.set(id, row);
    job.outbox.push(id);
    return id;
  }

  private dropOutboxRow(id: number): void {
    const row = this.outbox.get(id);
    if (row === undefined) return;
    this.outbox.delete(id);
    const key = blockedKey(row.job.component, row.job.limitKey);
    const queue = this.outboxByKey.get(key);
    queue?.rows.delete(id);
    if (queue?.rows.size === 0) this.outboxByKey.delete(key);
  }

  private deleteOutbox(row: OutboxRow): void {
    this.dropOutboxRow(row.id);
    const ids = row.job.outbox;
    const at = ids.indexOf(row.id);
    if (at !== -1) ids.splice(at, 1);
  }

  /** Deletes every outbox row of the job. */
  private clearOutbox(job: JobRow): void {
    for (const id of job.outbox) this.dropOutboxRow(id);
    job.outbox.length = 0;
  }

  /**
   * Files a job just decided in `order`; past the bound, the oldest decisions are deleted at the end of this
   * turn of the event loop (and at once down to EVICTION_SLACK over, should one turn decide more). Not at once:
   * the coordinator tells a job's waiters after the store call returns, and one delivery of many Results
   * records them all first, so an eviction at once would delete a job before its waiter reads it.
   */
  private decidedNow(row: JobRow, order: DecisionOrder<JobRow>): void {
    order.append(row);
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

  /**
   * Deletes the oldest decisions past the bound (and `allowance` more): the DLQ's last, never `keep` (the
   * latest decision), and no job a completion hook submitted while its parent is still open (the
   * hook may run again, and must find the child by its key rather than submit it twice). When only such
   * jobs are left, the bound waits for their parents.
   */
  private evict(keep: JobRow | null, allowance: number): void {
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
      this.evicted += 1;
    }
  }

  /** A job submitted by a completion hook whose parent is still pending or queued. */
  private parentOpen(row: JobRow): boolean {
    const parent = row.idempotencyKey === null ? undefined : chainParentOf(row.idempotencyKey, row.component);
    if (parent === undefined) return false;
    const state = this.jobs.get(parent)?.state;
    return state !== undefined && OPEN.has(state);
  }

  /** In the DLQ: what `deadLetteredJobIds` lists, and what a redrive is for. */
  private awaitsRedrive(row: JobRow): boolean {
    return (
      row.state === "failed" && (this.deadLettersByJob.get(row.jobId)?.some((d) => d.redrivenAt === null) ?? false)
    );
  }

  /** What retention's DELETE does to a job's rows: the job, its keys and counts, its outbox rows and dead letters. */
  private deleteJob(row: JobRow): void {
    row.deleted = true;
    // Its tombstone may wait for the next compaction: it need not hold the job's payloads meanwhile.
    row.envelope = "";
    row.output = null;
    row.reasonDetail = null;
    row.inOrder?.remove(row);
    this.jobs.delete(row.jobId);
    this.bySeq.deleted();
    this.byComponent.get(row.component)?.deleted();
    if (row.idempotencyKey !== null) {
      const keys = this.idempotency.get(row.component);
      if (keys?.get(row.idempotencyKey) === row) keys.delete(row.idempotencyKey);
    }
    this.clearOutbox(row);
    const counts = this.counts.get(row.component);
    if (counts !== undefined) {
      counts[row.state] -= 1;
      // A component without jobs is absent, as from the SQL store's GROUP BY.
      if (Object.values(counts).every((n) => n === 0)) this.counts.delete(row.component);
    }
    for (const dead of this.deadLettersByJob.get(row.jobId) ?? []) {
      dead.deleted = true;
      const atSeq = this.deadLetterKeys.get(dead.component);
      if (atSeq?.get(dead.streamSeq) === dead) atSeq.delete(dead.streamSeq);
      this.deadLetters.deleted();
    }
    this.deadLettersByJob.delete(row.jobId);
  }

  private setState(row: JobRow, state: JobState): void {
    this.count(row, row.state, state);
    row.state = state;
  }

  private count(row: JobRow, from: JobState | undefined, to: JobState): void {
    let counts = this.counts.get(row.component);
    if (counts === undefined) this.counts.set(row.component, (counts = emptyCounts()));
    if (from !== undefined) counts[from] -= 1;
    counts[to] += 1;
  }
}

function isDeleted(row: { deleted: boolean }): boolean {
  return row.deleted;
}

/** Pending or queued, and not redriven after a Result that finished at `finishedAt` (with the clock tolerance). */
function isOpenFor(row: JobRow, finishedAt: number): boolean {
  return OPEN.has(row.state) && (row.redrivenAt === null || row.redrivenAt <= finishedAt + REDRIVE_CLOCK_TOLERANCE_MS);
}

function resultValues(r: Result): ResultValues {
  return {
    jobId: storableText(r.job_id),
    component: storableText(r.component),
    status: storableText(r.status),
    attempt: storableInteger(r.attempt, "integer"),
    reasonCode: storableNullableText(r.reason_code),
    reasonDetail: storableNullableText(r.reason_detail),
    output: r.output === undefined ? null : storableJson(jsonText(r.output)),
    instanceId: storableNullableText(r.instance_id),
    durationMs: r.duration_ms === undefined ? null : storableInteger(Math.round(r.duration_ms), "integer"),
    finishedAt: storableTimestamp(r.finished_at),
  };
}

function toSummary(row: JobRow): JobSummary {
  return {
    jobId: row.jobId,
    component: row.component,
    state: row.state,
    limitKey: row.limitKey,
    reasonCode: row.reasonCode,
    updatedAt: iso(row.updatedAt),
  };
}

function toRecord(row: JobRow): JobRecord {
  return {
    jobId: row.jobId,
    component: row.component,
    state: row.state,
    limitKey: row.limitKey,
    idempotencyKey: row.idempotencyKey,
    envelope: JSON.parse(row.envelope) as Job,
    attempts: row.attempts,
    dispatches: row.dispatches,
    redrives: row.redrives,
    reasonCode: row.reasonCode,
    reasonDetail: row.reasonDetail,
    output: row.output === null ? null : (JSON.parse(row.output) as Result["output"] | null),
    instanceId: row.instanceId,
    durationMs: row.durationMs,
    duplicateResults: row.duplicateResults,
    createdAt: iso(row.createdAt),
    dispatchedAt: isoOrNull(row.dispatchedAt),
    finishedAt: isoOrNull(row.finishedAt),
    updatedAt: iso(row.updatedAt),
  };
}

function toOutboxEntry(row: OutboxRow): OutboxEntry {
  const { job } = row;
  // The envelope was validated and encoded when submitted: its stored text is published as is.
  return {
    id: row.id,
    jobId: job.jobId,
    component: job.component,
    limitKey: job.limitKey,
    dedupKey: row.dedupKey,
    envelope: JSON.parse(job.envelope) as Job,
    encoded: utf8.encode(job.envelope),
  };
}

function toDeadLetterRecord(d: DeadLetterRow): DeadLetterRecord {
  return {
    jobId: d.jobId,
    component: d.component,
    deliveries: d.deliveries,
    reasonCode: d.reasonCode,
    reasonDetail: d.reasonDetail,
    deadLetteredAt: iso(d.deadLetteredAt),
    redrivenAt: isoOrNull(d.redrivenAt),
  };
}

/** A binary heap, smallest first by `before`: the fair read's merge of per-key queues. */
class MinHeap<T> {
  private readonly items: T[] = [];

  constructor(private readonly before: (a: T, b: T) => number) {}

  peek(): T | undefined {
    return this.items[0];
  }

  push(item: T): void {
    const items = this.items;
    items.push(item);
    for (let i = items.length - 1; i > 0;) {
      const parent = (i - 1) >> 1;
      if (this.before(items[i] as T, items[parent] as T) >= 0) break;
      [items[i], items[parent]] = [items[parent] as T, items[i] as T];
      i = parent;
    }
  }

  pop(): void {
    const last = this.items.pop();
    if (last !== undefined && this.items.length > 0) this.replaceTop(last);
  }

  replaceTop(item: T): void {
    const items = this.items;
    items[0] = item;
    for (let i = 0; ;) {
      const left = 2 * i + 1;
      const right = left + 1;
      let least = i;
      if (left < items.length && this.before(items[left] as T, items[least] as T) < 0) least = left;
      if (right < items.length && this.before(items[right] as T, items[least] as T) < 0) least = right;
      if (least === i) break;
      [items[i], items[least]] = [items[least] as T, items[i] as T];
      i = least;
    }
  }
}
