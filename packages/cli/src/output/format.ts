import type { JobRecord, JobState } from "@tessera/client";
import type { Style } from "./style.js";

/** "12s", "5m", "3h", "2d": how long ago `iso` was. */
export function formatAge(iso: string, now: Date = new Date()): string {
  const seconds = Math.max(0, Math.floor((now.getTime() - Date.parse(iso)) / 1000));
  if (Number.isNaN(seconds)) return "?";
  if (seconds < 60) return `${seconds}s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m`;
  if (seconds < 86_400) return `${Math.floor(seconds / 3600)}h`;
  return `${Math.floor(seconds / 86_400)}d`;
}

/** "16 MiB", "11.9 MiB": a size as people say it. */
export function formatMebibytes(bytes: number): string {
  return `${(bytes / (1024 * 1024)).toFixed(1).replace(/\.0$/, "")} MiB`;
}

export function formatDuration(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)}ms` : `${(ms / 1000).toFixed(1)}s`;
}

export function paintState(state: JobState, style: Style): string {
  switch (state) {
    case "completed":
      return style.green(state);
    case "failed":
      return style.red(state);
    case "cancelled":
      return style.yellow(state);
    default:
      return style.cyan(state);
  }
}

/** `handler_error: boom` — the reason code with its detail, or "" when the job has none. */
export function formatReason(job: Pick<JobRecord, "reasonCode" | "reasonDetail">): string {
  if (job.reasonCode === null) return "";
  return job.reasonDetail !== null && job.reasonDetail !== ""
    ? `${job.reasonCode}: ${job.reasonDetail}`
    : job.reasonCode;
}

/** "completed 10, failed 1": the non-zero counts, in the order given. */
export function formatCounts(counts: Readonly<Record<string, number>>): string {
  const parts = Object.entries(counts)
    .filter(([, n]) => n > 0)
    .map(([name, n]) => `${name} ${n}`);
  return parts.length === 0 ? "none" : parts.join(", ");
}
