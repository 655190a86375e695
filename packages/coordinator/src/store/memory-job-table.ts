import type { JobFilter, JobRecord, JobState, Page } from "../types.js";
import { type Ordered } from "./decision-order.js";
import { toJobRecord, type JobColumns } from "./job-row.js";
import { emptyCounts } from "./job-storage.js";
import { pageNewestFirst } from "./paging.js";
import { TombstoneList } from "./tombstone-list.js";

/**
 * One job as the memory store holds it: the SQL row's columns under their names (so job-row.ts maps both
 * stores' rows alike), timestamps as epoch ms, jsonb columns as their JSON text.
 */
export interface MemoryJobRow extends JobColumns, Ordered<MemoryJobRow> {
  readonly seq: number;
  readonly job_id: string;
  readonly component: string;
  readonly limit_key: string | null;
  readonly idempotency_key: string | null;
  /** Emptied when the job is deleted: its tombstone stays in the listings' arrays for a while. */
  envelope: string;
  output: string | null;
  readonly created_at: number;
  dispatched_at: number | null;
  redriven_at: number | null;
  finished_at: number | null;
  updated_at: number;
  /** Its rows in the outbox (the SQL store's index on tessera_outbox.job_id): rarely more than one. */
  readonly outbox: number[];
  /** Deleted by retention or the bound: a tombstone in the listings' arrays until they are compacted. */
  deleted: boolean;
}

/** A new job's own columns, already checked as storable. */
export type NewJobColumns = Pick<MemoryJobRow, "job_id" | "component" | "limit_key" | "idempotency_key" | "envelope">;

export const OPEN: ReadonlySet<JobState> = new Set(["pending", "queued"]);

export function isDeleted(row: { deleted: boolean }): boolean {
  return row.deleted;
}

/**
 * The jobs table and its indexes: by id, in creation (seq) order overall and per component (the listings'
 * order), by idempotency key per component, and job counts by component and state.
 */
export class MemoryJobTable {
  private readonly byId = new Map<string, MemoryJobRow>();
  private readonly bySeq = new TombstoneList<MemoryJobRow>(isDeleted);
  private readonly byComponent = new Map<string, TombstoneList<MemoryJobRow>>();
  private readonly idempotency = new Map<string, Map<string, MemoryJobRow>>();
  private readonly counts = new Map<string, Record<JobState, number>>();
  private seq = 0;

  /** A pending job, indexed and counted. */
  insert(job: NewJobColumns, now: number): MemoryJobRow {
    // Field by field rather than `...job` and then the rest: V8 copies a spread with its source's shape and
    // then adds each further field to that copy, which made this the costliest line of an embedded job
    // (docs/performance.md, "Regressions found").
    const row: MemoryJobRow = {
      job_id: job.job_id,
      component: job.component,
      limit_key: job.limit_key,
      idempotency_key: job.idempotency_key,
      envelope: job.envelope,
      seq: ++this.seq,
      state: "pending",
      attempts: 0,
      dispatches: 0,
      redrives: 0,
      reason_code: null,
      reason_detail: null,
      output: null,
      instance_id: null,
      duration_ms: null,
      duplicate_results: 0,
      stream_seq: null,
      created_at: now,
      dispatched_at: null,
      redriven_at: null,
      finished_at: null,
      updated_at: now,
      outbox: [],
      deleted: false,
      older: null,
      newer: null,
      inOrder: null,
    };
    this.byId.set(row.job_id, row);
    this.bySeq.push(row);
    let ofComponent = this.byComponent.get(row.component);
    if (ofComponent === undefined)
      this.byComponent.set(row.component, (ofComponent = new TombstoneList<MemoryJobRow>(isDeleted)));
    ofComponent.push(row);
    if (row.idempotency_key !== null) {
      let keys = this.idempotency.get(row.component);
      if (keys === undefined) this.idempotency.set(row.component, (keys = new Map()));
      keys.set(row.idempotency_key, row);
    }
    this.count(row, undefined, "pending");
    return row;
  }

  get(jobId: string): MemoryJobRow | undefined {
    return this.byId.get(jobId);
  }

  has(jobId: string): boolean {
    return this.byId.has(jobId);
  }

  byIdempotencyKey(component: string, key: string): MemoryJobRow | undefined {
    return this.idempotency.get(component)?.get(key);
  }

  /** Every job in creation order, tombstones included (readers skip the deleted ones). */
  get rows(): readonly MemoryJobRow[] {
    return this.bySeq.rows;
  }

  /** A component's jobs in creation order, tombstones included. */
  rowsOf(component: string): readonly MemoryJobRow[] {
    return this.byComponent.get(component)?.rows ?? [];
  }

  /** A page of jobs, newest first, as listJobs gives it (the filter's values already checked). */
  page(filter: JobFilter): Page<JobRecord> {
    const { component, state, key } = filter;
    return pageNewestFirst(
      component === undefined ? this.rows : this.rowsOf(component),
      (r) => r.seq,
      filter,
      "p",
      (r) => !r.deleted && (state === undefined || r.state === state) && (key === undefined || r.limit_key === key),
      toJobRecord,
    );
  }

  /**
   * A job of the component whose latest dispatch is at this stream position. Only for a dead letter whose
   * message is gone: rare enough for a scan, which keeps the dispatch record free of an index it would
   * maintain for every job. Newest first, where the SQL store names any match.
   */
  atStreamSeq(component: string, streamSeq: number): MemoryJobRow | undefined {
    const rows = this.rowsOf(component);
    for (let i = rows.length - 1; i >= 0; i--) {
      const row = rows[i] as MemoryJobRow;
      if (!row.deleted && row.stream_seq === streamSeq) return row;
    }
    return undefined;
  }

  /** Queued jobs with a limit key, in creation order. */
  queuedWithKeys(): { jobId: string; component: string; limitKey: string }[] {
    const out: { jobId: string; component: string; limitKey: string }[] = [];
    for (const row of this.rows)
      if (!row.deleted && row.state === "queued" && row.limit_key !== null)
        out.push({ jobId: row.job_id, component: row.component, limitKey: row.limit_key });
    return out;
  }

  setState(row: MemoryJobRow, state: JobState): void {
    this.count(row, row.state, state);
    row.state = state;
  }

  /** What retention's DELETE does to the job's row: gone from every index and count, a tombstone in the listings. */
  delete(row: MemoryJobRow): void {
    row.deleted = true;
    // Its tombstone may wait for the next compaction: it need not hold the job's payloads meanwhile.
    row.envelope = "";
    row.output = null;
    row.reason_detail = null;
    this.byId.delete(row.job_id);
    this.bySeq.deleted();
    this.byComponent.get(row.component)?.deleted();
    if (row.idempotency_key !== null) {
      const keys = this.idempotency.get(row.component);
      if (keys?.get(row.idempotency_key) === row) keys.delete(row.idempotency_key);
    }
    const counts = this.counts.get(row.component);
    if (counts !== undefined) {
      counts[row.state] -= 1;
      // A component without jobs is absent, as from the SQL store's GROUP BY.
      if (Object.values(counts).every((n) => n === 0)) this.counts.delete(row.component);
    }
  }

  /** Job counts by component and state, a copy. */
  countsByComponent(): Map<string, Record<JobState, number>> {
    return new Map([...this.counts].map(([component, counts]) => [component, { ...counts }]));
  }

  private count(row: MemoryJobRow, from: JobState | undefined, to: JobState): void {
    let counts = this.counts.get(row.component);
    if (counts === undefined) this.counts.set(row.component, (counts = emptyCounts()));
    if (from !== undefined) counts[from] -= 1;
    counts[to] += 1;
  }
}
