import type { Result } from "@tessera/contract";
import { REDRIVE_CLOCK_TOLERANCE_MS } from "./job-storage.js";
import { OPEN, type MemoryJobRow } from "./memory-job-table.js";
import {
  jsonText,
  storableInteger,
  storableJson,
  storableNullableText,
  storableText,
  storableTimestamp,
} from "./storable-values.js";

/** A Result's columns, checked as the SQL store's statement checks its parameters: all of them, before anything changes. */
export interface ResultValues {
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

/** Pending or queued, and not redriven after a Result that finished at `finishedAt` (with the clock tolerance). */
export function isOpenFor(row: MemoryJobRow, finishedAt: number): boolean {
  return (
    OPEN.has(row.state) && (row.redriven_at === null || row.redriven_at <= finishedAt + REDRIVE_CLOCK_TOLERANCE_MS)
  );
}

export function resultValues(r: Result): ResultValues {
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
