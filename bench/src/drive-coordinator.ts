import type { SubmitInput } from "@tessera/coordinator";
import type { TesseraSetup } from "./tessera-modes.js";
import type { BenchEnv } from "./bench-env.js";
import { latencyResult, openLoopLatency, openLoopSamples, type LatencyResult } from "./open-loop.js";
import { cpuByRole } from "./process-cpu.js";
import { windowed } from "./windowed.js";
import { runMeasured, type ThroughputResult } from "./throughput.js";

/** Submits in flight at once in a throughput run: what a busy monolith's request handlers would do. */
const SUBMIT_WINDOW = 512;

/**
 * Counts the component's jobs recorded as completed (the store applied their Result), by job id; `check`
 * throws once one was recorded failed or cancelled.
 */
function completions({ coordinator, component, check: alive }: TesseraSetup): {
  count(): number;
  at: Map<string, number>;
  check(): void;
  stop(): void;
} {
  const at = new Map<string, number>();
  const failed: string[] = [];
  const stop = coordinator.onJobEvent((e) => {
    if (e.component !== component) return;
    if (e.state === "completed") at.set(e.jobId, performance.now());
    else if (e.state === "failed" || e.state === "cancelled")
      failed.push(`${e.jobId} ${e.state} (${e.reasonCode ?? "no reason"})`);
  });
  const check = (): void => {
    alive();
    if (failed.length > 0)
      throw new Error(`${failed.length} ${component} jobs did not complete, e.g. ${failed.slice(0, 3).join("; ")}`);
  };
  return { count: () => at.size, at, check, stop };
}

/** `total` split into `parts` whole shares that add up to it, the first ones one larger when it does not divide. */
function evenShares(total: number, parts: number): number[] {
  return Array.from({ length: parts }, (_, i) => Math.floor(total / parts) + (i < total % parts ? 1 : 0));
}

/** `jobs` submits (at most `window` at once, SUBMIT_WINDOW by default), timed until the last Result is recorded. */
export async function submitAndDrain(
  env: BenchEnv,
  setup: TesseraSetup,
  jobs: number,
  input: () => SubmitInput,
  window = SUBMIT_WINDOW,
): Promise<ThroughputResult> {
  const { coordinator, component, remotes } = setup;
  const done = completions(setup);
  // With replicas, each takes an equal share of the jobs and of the window, as behind a load balancer.
  const [here = 0, ...there] = evenShares(jobs, remotes.length + 1);
  const replicaWindow = Math.ceil(window / (remotes.length + 1));
  try {
    return await runMeasured(jobs, async () => {
      await Promise.all([
        windowed(here, replicaWindow, () => coordinator.submit(component, input())),
        ...remotes.map((r, i) => r.submit(there[i] ?? 0, replicaWindow, input())),
      ]);
      await env.waitUntil(`${jobs} ${component} jobs to complete`, () => {
        done.check();
        return done.count() >= jobs;
      });
    });
  } finally {
    done.stop();
  }
}

/**
 * `openLoopLatency` for a coordinator: from the submit call to its Result recorded in the store. With replicas,
 * each submits an equal share of the rate and times its own jobs until it heard their Results, as a caller
 * waiting on the replica it submitted to would; the samples are summarized together.
 */
export async function latencyAtRate(
  env: BenchEnv,
  setup: TesseraSetup,
  rate: number,
  seconds: number,
  input: () => SubmitInput,
): Promise<LatencyResult> {
  const { coordinator, component, remotes } = setup;
  const done = completions(setup);
  const submit = (): Promise<string> => coordinator.submit(component, input()).then((o) => o.jobId);
  try {
    if (remotes.length === 0)
      return await openLoopLatency(env, `${component} jobs`, rate, seconds, submit, done.at, done.check);
    // Whole jobs per replica, adding up to the run's: each replica's rate is its count over the run's length.
    const counts = evenShares(Math.round(rate * seconds), remotes.length + 1);
    const rateOf = (i: number): number => (counts[i] ?? 0) / seconds;
    const cpuBefore = cpuByRole();
    const started = performance.now();
    const [here, ...there] = await Promise.all([
      openLoopSamples(env, `${component} jobs`, rateOf(0), seconds, submit, done.at, done.check),
      ...remotes.map((r, i) => r.latency(rateOf(i + 1), seconds, input())),
    ]);
    const samples = [...(here?.samples ?? []), ...there.flat()];
    return latencyResult(rate, samples, (performance.now() - started) / 1000, cpuBefore);
  } finally {
    done.stop();
  }
}
