import type { Job, Result } from "@tessera/contract";
import type { DeadLetterRecord, JobRecord, JobState } from "../types.js";

/** Columns of tessera_jobs as both drivers return them (timestamptz as Date, jsonb parsed, int8 as number). */
export interface JobRow {
  seq: number;
  job_id: string;
  component: string;
  state: JobState;
  limit_key: string | null;
  idempotency_key: string | null;
  envelope: Job;
  attempts: number;
  dispatches: number;
  redrives: number;
  reason_code: string | null;
  reason_detail: string | null;
  output: Result["output"] | null;
  instance_id: string | null;
  duration_ms: number | null;
  duplicate_results: number;
  stream_seq: number | null;
  created_at: Date | string;
  dispatched_at: Date | string | null;
  redriven_at: Date | string | null;
  finished_at: Date | string | null;
  updated_at: Date | string;
  [column: string]: unknown;
}

export function isoOrNull(value: Date | string | null): string | null {
  if (value === null) return null;
  return value instanceof Date ? value.toISOString() : new Date(value).toISOString();
}

export function toJobRecord(row: JobRow): JobRecord {
  return {
    jobId: row.job_id,
    component: row.component,
    state: row.state,
    limitKey: row.limit_key,
    idempotencyKey: row.idempotency_key,
    envelope: row.envelope,
    attempts: row.attempts,
    dispatches: row.dispatches,
    redrives: row.redrives,
    reasonCode: row.reason_code,
    reasonDetail: row.reason_detail,
    output: row.output,
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

export type JobSummaryRow = Pick<JobRow, "job_id" | "component" | "state" | "limit_key" | "reason_code" | "updated_at">;

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

export interface DeadLetterRow {
  component: string;
  stream_seq: number;
  job_id: string;
  deliveries: number;
  reason_code: string;
  reason_detail: string;
  dead_lettered_at: Date | string;
  redriven_at: Date | string | null;
  [column: string]: unknown;
}

export function toDeadLetterRecord(row: DeadLetterRow): DeadLetterRecord {
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
