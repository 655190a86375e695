import type { SubmitInput } from "@tessera/coordinator";
import type { TesseraSetup } from "./tessera-modes.js";
import type { BenchEnv } from "./bench-env.js";
import { openLoopLatency, type LatencyResult } from "./open-loop.js";
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

/** `jobs` submits (at most `window` at once, SUBMIT_WINDOW by default), timed until the last Result is recorded. */
export async function submitAndDrain(
  env: BenchEnv,
  setup: TesseraSetup,
  jobs: number,
  input: () => SubmitInput,
  window = SUBMIT_WINDOW,
): Promise<ThroughputResult> {
  const { coordinator, component } = setup;
  const done = completions(setup);
  try {
    return await runMeasured(jobs, async () => {
      await windowed(jobs, window, () => coordinator.submit(component, input()));
      await env.waitUntil(`${jobs} ${component} jobs to complete`, () => {
        done.check();
        return done.count() >= jobs;
      });
    });
  } finally {
    done.stop();
  }
}

/** `openLoopLatency` for a coordinator: from the submit call to its Result recorded in the store. */
export async function latencyAtRate(
  env: BenchEnv,
  setup: TesseraSetup,
  rate: number,
  seconds: number,
  input: () => SubmitInput,
): Promise<LatencyResult> {
  const { coordinator, component } = setup;
  const done = completions(setup);
  try {
    return await openLoopLatency(
      env,
      `${component} jobs`,
      rate,
      seconds,
      () => coordinator.submit(component, input()).then((o) => o.jobId),
      done.at,
      done.check,
    );
  } finally {
    done.stop();
  }
}
