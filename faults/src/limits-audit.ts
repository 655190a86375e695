/**
 * The per-key limits audit of a fault run with limits (pure, unit-tested): from the handlers' execution log
 * and the store's rows, did any key run more jobs at once than its concurrency, or start them faster than
 * its rate?
 *
 * Concurrency: a job holds its key's slot from its dispatch to its decision. Its first handler run comes
 * after the dispatch, and the store's `updated_at` of a decided job is its decision, both on this machine's
 * clock, so [first run, decision] lies inside the slot's time: no more than `concurrency` of those may
 * overlap per key. Later runs of a decided job (a redelivery after the Result, which the worker's guard
 * usually catches) are not dispatches and do not count.
 *
 * Rate: dispatches are not logged, first runs are, and a first run can trail its dispatch (a job waiting in
 * the stream while the workers restart). So the bound is checked with slack: in any span of first runs of
 * one key, at most `burst + rate × (span + slack) + 1` jobs (the one token of tolerance across replicas).
 */
import type { KeyLimits } from "@tessera/coordinator";
import { peakOverlap } from "@tessera/testkit";
import type { StoreJob } from "./audit.js";

/** How long a first run may trail its dispatch in a fault run (worker restarts, nats-server downtime). */
export const RATE_SLACK_MS = 5_000;

export interface LimitsVerdict {
  keys: number;
  /** The most jobs of one key between first run and decision at one moment. */
  peakConcurrency: number;
  /** Keys with jobs still open (pending or queued) at the end. */
  keysWithOpenJobs: number;
  /** The largest count of first runs in a span of one key, over what the rate allows for that span. */
  worstRateRatio: number;
  ok: boolean;
  problems: string[];
}

/** The limit key of the i-th job of a run with `tenants` keys. */
export function tenantOf(index: number, tenants: number): string {
  return `t${index % tenants}`;
}

export function auditLimits(input: {
  jobs: readonly StoreJob[];
  executions: ReadonlyArray<{ jobId: string; at: number }>;
  limits: KeyLimits;
}): LimitsVerdict {
  const firstRun = new Map<string, number>();
  for (const e of input.executions) firstRun.set(e.jobId, Math.min(e.at, firstRun.get(e.jobId) ?? Infinity));
  const byKey = new Map<string, Array<{ start: number; end: number }>>();
  const open = new Set<string>();
  for (const job of input.jobs) {
    if (job.limitKey === null || job.limitKey === undefined) continue;
    if (job.state === "pending" || job.state === "queued") open.add(job.limitKey);
    const start = firstRun.get(job.jobId);
    if (start === undefined) continue;
    const end = job.state === "pending" || job.state === "queued" ? Infinity : (job.updatedAt ?? Infinity);
    const list = byKey.get(job.limitKey) ?? [];
    list.push({ start, end });
    byKey.set(job.limitKey, list);
  }
  const problems: string[] = [];
  let peakConcurrency = 0;
  let worstRateRatio = 0;
  for (const [key, spans] of byKey) {
    const peak = peakOverlap(spans);
    peakConcurrency = Math.max(peakConcurrency, peak);
    if (input.limits.concurrency !== undefined && peak > input.limits.concurrency)
      problems.push(`key ${key}: ${peak} jobs at once, over its concurrency ${input.limits.concurrency}`);
    const rate = input.limits.rate;
    if (rate === undefined) continue;
    const starts = spans.map((s) => s.start).sort((a, b) => a - b);
    for (let i = 0; i < starts.length; i++) {
      for (let j = i; j < starts.length; j++) {
        const span = (starts[j] as number) - (starts[i] as number);
        const allowed = rate.limit + ((span + RATE_SLACK_MS) * rate.limit) / rate.intervalMs + 1;
        const ratio = (j - i + 1) / allowed;
        if (ratio > worstRateRatio) worstRateRatio = ratio;
      }
    }
  }
  if (worstRateRatio > 1)
    problems.push(`a key started jobs faster than its rate allows (${worstRateRatio.toFixed(2)}×)`);
  if (open.size > 0) problems.push(`${open.size} key(s) left with open jobs: ${[...open].slice(0, 5).join(", ")}`);
  return {
    keys: byKey.size,
    peakConcurrency,
    keysWithOpenJobs: open.size,
    worstRateRatio: Math.round(worstRateRatio * 1_000) / 1_000,
    ok: problems.length === 0,
    problems,
  };
}
