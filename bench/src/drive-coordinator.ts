import type { Coordinator, SubmitInput } from "@tessera/coordinator";
import type { BenchEnv } from "./bench-env.js";
import { summarize, type LatencySummary } from "./stats.js";
import { windowed } from "./windowed.js";
import { runMeasured, type ThroughputResult } from "./throughput.js";

/** Submits in flight at once in a throughput run: what a busy monolith's request handlers would do. */
const SUBMIT_WINDOW = 512;

/** Counts the component's jobs recorded as completed (the store applied their Result), by job id. */
function completions(coordinator: Coordinator, component: string): { count(): number; at: Map<string, number>; failed(): string[]; stop(): void } {
  const at = new Map<string, number>();
  const failed: string[] = [];
  const stop = coordinator.onJobEvent((e) => {
    if (e.component !== component) return;
    if (e.state === "completed") at.set(e.jobId, performance.now());
    else if (e.state === "failed" || e.state === "cancelled") failed.push(`${e.jobId} ${e.state} (${e.reasonCode ?? "no reason"})`);
  });
  return { count: () => at.size, at, failed: () => failed, stop };
}

/** `jobs` submits (at most `window` at once, SUBMIT_WINDOW by default), timed until the last Result is recorded. */
export async function submitAndDrain(env: BenchEnv, coordinator: Coordinator, component: string, jobs: number, input: () => SubmitInput, window = SUBMIT_WINDOW): Promise<ThroughputResult> {
  const done = completions(coordinator, component);
  try {
    return await runMeasured(jobs, async () => {
      await windowed(jobs, window, () => coordinator.submit(component, input()));
      await env.waitUntil(`${jobs} ${component} jobs to complete`, () => {
        const failed = done.failed();
        if (failed.length > 0) throw new Error(`${failed.length} ${component} jobs did not complete, e.g. ${failed.slice(0, 3).join("; ")}`);
        return done.count() >= jobs;
      });
    });
  } finally {
    done.stop();
  }
}

export interface LatencyResult extends LatencySummary {
  offeredPerSecond: number;
  achievedPerSecond: number;
}

/**
 * Submits at a fixed offered rate for `seconds` (open loop: a slow system does not slow the offer down)
 * and measures each job from the submit call to its Result recorded in the store.
 */
export async function latencyAtRate(env: BenchEnv, coordinator: Coordinator, component: string, rate: number, seconds: number, input: () => SubmitInput): Promise<LatencyResult> {
  const done = completions(coordinator, component);
  const submittedAt = new Map<string, number>();
  const total = Math.round(rate * seconds);
  try {
    const started = performance.now();
    let sent = 0;
    const pending: Promise<unknown>[] = [];
    await new Promise<void>((resolve) => {
      const tick = (): void => {
        const due = Math.min(total, Math.floor(((performance.now() - started) / 1000) * rate));
        while (sent < due) {
          sent += 1;
          const t0 = performance.now();
          pending.push(coordinator.submit(component, input()).then((o) => submittedAt.set(o.jobId, t0)));
        }
        if (sent >= total) resolve();
        else setTimeout(tick, 1);
      };
      tick();
    });
    await Promise.all(pending);
    await env.waitUntil(`${total} ${component} jobs to complete`, () => done.count() >= total);
    const elapsed = (performance.now() - started) / 1000;
    const samples = [...submittedAt].map(([id, t0]) => (done.at.get(id) as number) - t0);
    return { offeredPerSecond: rate, achievedPerSecond: Math.round(total / elapsed), ...summarize(samples) };
  } finally {
    done.stop();
  }
}
