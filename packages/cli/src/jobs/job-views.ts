import type { JobEvent, JobRecord } from "@tessera/client";
import { formatAge, formatDuration, formatReason, paintState } from "../output/format.js";
import type { Style } from "../output/style.js";
import { renderTable } from "../output/table.js";

/** Inline output longer than this is cut in the human view; `--json` always has all of it. */
const OUTPUT_PREVIEW_CHARS = 400;

function outputText(job: JobRecord): string | undefined {
  const output = job.output;
  if (output === null || output === undefined) return undefined;
  if (output.result_ref !== undefined)
    return `stored as ${output.result_ref.object_ref} (${output.result_ref.byte_size} bytes)`;
  if (output.data === undefined) return undefined;
  const text = JSON.stringify(output.data);
  return text.length > OUTPUT_PREVIEW_CHARS ? `${text.slice(0, OUTPUT_PREVIEW_CHARS)}… (--json for all of it)` : text;
}

function at(iso: string | null, now: Date): string | undefined {
  return iso === null ? undefined : `${iso} (${formatAge(iso, now)} ago)`;
}

/** `tessera jobs get`: one field per line, empty fields left out. */
export function describeJob(job: JobRecord, style: Style, now: Date = new Date()): string {
  const reason = formatReason(job);
  const fields: [string, string | undefined][] = [
    ["job", job.jobId],
    ["component", job.component],
    ["state", reason === "" ? paintState(job.state, style) : `${paintState(job.state, style)} (${reason})`],
    ["attempts", `${job.attempts} (dispatched ${job.dispatches}×, redriven ${job.redrives}×)`],
    ["idempotency key", job.idempotencyKey ?? undefined],
    ["limit key", job.limitKey ?? undefined],
    [
      "metadata",
      job.envelope.metadata !== undefined && Object.keys(job.envelope.metadata).length > 0
        ? JSON.stringify(job.envelope.metadata)
        : undefined,
    ],
    ["instance", job.instanceId ?? undefined],
    ["duration", job.durationMs === null ? undefined : formatDuration(job.durationMs)],
    ["created", at(job.createdAt, now)],
    ["dispatched", at(job.dispatchedAt, now)],
    ["finished", at(job.finishedAt, now)],
    ["output", outputText(job)],
    ["late results", job.duplicateResults > 0 ? String(job.duplicateResults) : undefined],
  ];
  const shown = fields.filter((f): f is [string, string] => f[1] !== undefined);
  const width = Math.max(...shown.map(([name]) => name.length));
  return shown.map(([name, value]) => `${style.dim(name.padEnd(width))}  ${value}\n`).join("");
}

/** `tessera jobs list`: id, component, state, attempts, reason, age. */
export function jobsTable(jobs: readonly JobRecord[], style: Style, now: Date = new Date()): string {
  const rows = jobs.map((j) => [
    j.jobId,
    j.component,
    paintState(j.state, style),
    String(j.attempts),
    formatReason(j),
    formatAge(j.createdAt, now),
  ]);
  return renderTable(["id", "component", "state", "attempts", "reason", "age"], rows, style);
}

/** One state change as `watch` prints it: local time, job, component, state, reason, and how far a set of jobs is. */
export function eventLine(event: JobEvent, style: Style, progress?: { done: number; total: number }): string {
  const time = new Date(event.at).toLocaleTimeString("en-GB", { hour12: false });
  const parts = [style.dim(time), event.jobId, event.component, paintState(event.state, style)];
  if (event.reasonCode !== null) parts.push(event.reasonCode);
  if (progress !== undefined) parts.push(style.dim(`(${progress.done}/${progress.total} done)`));
  return `${parts.join("  ")}\n`;
}
