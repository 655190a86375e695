import type { Job, Result } from "@tessera/contract";
import type { DeadLetterRecord, JobRecord, JobState } from "../types.js";
import type { OutboxEntry } from "./job-storage.js";

/**
 * How each store maps its rows to what it returns, written once: the SQL store's rows as the drivers return
 * them, and the memory store's rows, which hold the same columns under the same names.
 */

/** A timestamptz column: a Date or text from the SQL drivers, epoch milliseconds in the memory store. */
export type Timestamp = Date | string | number;

/**
 * A jsonb column: parsed by the SQL drivers, held as its JSON text by the memory store (so that nothing it
 * hands out is shared). The values are objects (an envelope, an output), so a string is always JSON text.
 */
export type JsonColumn<T> = T | string;

function fromJson<T>(value: JsonColumn<T>): T {
  return typeof value === "string" ? (JSON.parse(value) as T) : value;
}

/** Columns of tessera_jobs, as both drivers and the memory store give them (int8 as number). */
export interface JobColumns {
  seq: number;
  job_id: string;
  component: string;
  state: JobState;
  limit_key: string | null;
  idempotency_key: string | null;
  envelope: JsonColumn<Job>;
  attempts: number;
  dispatches: number;
  redrives: number;
  reason_code: string | null;
  reason_detail: string | null;
  output: JsonColumn<Result["output"]> | null;
  instance_id: string | null;
  duration_ms: number | null;
  duplicate_results: number;
  stream_seq: number | null;
  created_at: Timestamp;
  dispatched_at: Timestamp | null;
  redriven_at: Timestamp | null;
  finished_at: Timestamp | null;
  updated_at: Timestamp;
}

/** A row of tessera_jobs as the SQL drivers return it. */
export interface JobRow extends JobColumns {
  [column: string]: unknown;
}

export function isoOrNull(value: Timestamp | null): string | null {
  if (value === null) return null;
  return value instanceof Date ? value.toISOString() : new Date(value).toISOString();
}

export function toJobRecord(row: JobColumns): JobRecord {
  return {
    jobId: row.job_id,
    component: row.component,
    state: row.state,
    limitKey: row.limit_key,
    idempotencyKey: row.idempotency_key,
    envelope: fromJson(row.envelope),
    attempts: row.attempts,
    dispatches: row.dispatches,
    redrives: row.redrives,
    reasonCode: row.reason_code,
    reasonDetail: row.reason_detail,
    output: row.output === null ? null : fromJson(row.output),
    instanceId: row.instance_id,
    durationMs: row.duration_ms,
    duplicateResults: row.duplicate_results,
    createdAt: isoOrNull(row.created_at) as string,
    dispatchedAt: isoOrNull(row.dispatched_at),
    finishedAt: isoOrNull(row.finished_at),
    updatedAt: isoOrNull(row.updated_at) as string,
  };
}

/**
 * What the hot paths (submit, dispatch, Result) return and emit: enough for the job event, the limiter
 * and the submitter, without reading back and parsing every column of every row.
 */
export type JobSummary = Pick<JobRecord, "jobId" | "component" | "state" | "limitKey" | "reasonCode" | "updatedAt">;

/** The columns of a JobSummary, for RETURNING (qualified with `prefix`, e.g. "j."). */
export function summaryColumns(prefix = ""): string {
  return ["job_id", "component", "state", "limit_key", "reason_code", "updated_at"].map((c) => prefix + c).join(", ");
}

export type JobSummaryRow = Pick<
  JobColumns,
  "job_id" | "component" | "state" | "limit_key" | "reason_code" | "updated_at"
>;

export function toJobSummary(row: JobSummaryRow): JobSummary {
  return {
    jobId: row.job_id,
    component: row.component,
    state: row.state,
    limitKey: row.limit_key,
    reasonCode: row.reason_code,
    updatedAt: isoOrNull(row.updated_at) as string,
  };
}

/** Columns of tessera_dead_letters, as both drivers and the memory store give them. */
export interface DeadLetterColumns {
  component: string;
  stream_seq: number;
  job_id: string;
  deliveries: number;
  reason_code: string;
  reason_detail: string;
  dead_lettered_at: Timestamp;
  redriven_at: Timestamp | null;
}

/** A row of tessera_dead_letters as the SQL drivers return it. */
export interface DeadLetterRow extends DeadLetterColumns {
  [column: string]: unknown;
}

export function toDeadLetterRecord(row: DeadLetterColumns): DeadLetterRecord {
  return {
    jobId: row.job_id,
    component: row.component,
    deliveries: row.deliveries,
    reasonCode: row.reason_code,
    reasonDetail: row.reason_detail,
    deadLetteredAt: isoOrNull(row.dead_lettered_at) as string,
    redrivenAt: isoOrNull(row.redriven_at),
  };
}

const utf8 = new TextEncoder();

/**
 * An outbox row to publish, with its job's columns and envelope as stored (JSON text). The envelope was
 * validated and encoded when submitted: its stored text is published as is.
 */
export function toOutboxEntry(
  id: number,
  dedupKey: string,
  job: Pick<JobColumns, "job_id" | "component" | "limit_key"> & { envelope: string },
): OutboxEntry {
  return {
    id,
    jobId: job.job_id,
    component: job.component,
    limitKey: job.limit_key,
    dedupKey,
    envelope: JSON.parse(job.envelope) as Job,
    encoded: utf8.encode(job.envelope),
  };
}
