import type { Result } from "@tessera/contract";

/**
 * The dedup key of a Result. `finished_at` is in it so a retried publish of one Result is absorbed while
 * the Result of a later run is not: keyed by job and status alone, a redriven job that failed again
 * within the duplicate window would have its Result swallowed and stay queued in the coordinator forever.
 */
export function resultDedupKey(result: Result): string {
  return `${result.component}:${result.job_id}:${result.status}:${result.finished_at}`;
}
