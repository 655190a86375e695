import type { BenchEnv } from "./bench-env.js";
import { cpuByRole, cpuPerJob, type CpuByRole } from "./process-cpu.js";
import { summarize, type LatencySummary } from "./stats.js";

export interface LatencyResult extends LatencySummary {
  offeredPerSecond: number;
  achievedPerSecond: number;
  /**
   * CPU microseconds per job by process role over the run (Linux). At a fixed rate this is what each job costs
   * when the system is not busy enough to batch: it is the load behind the latency.
   */
  cpuUsPerJob?: CpuByRole;
}

/**
 * Submits at a fixed offered rate for `seconds` (open loop: a slow system does not slow the offer down)
 * and measures each job from the submit call to the time `completedAt` holds for its id (set by
 * whatever observes the system's completions). `check` throws to end the wait when the system reports a
 * failed job. Returns each job's milliseconds and the run's length.
 */
export async function openLoopSamples(
  env: Pick<BenchEnv, "waitUntil">,
  what: string,
  rate: number,
  seconds: number,
  submit: () => Promise<string>,
  completedAt: ReadonlyMap<string, number>,
  check: () => void = () => undefined,
): Promise<{ samples: number[]; elapsedSeconds: number }> {
  const submittedAt = new Map<string, number>();
  const total = Math.round(rate * seconds);
  const started = performance.now();
  let sent = 0;
  const pending: Promise<unknown>[] = [];
  await new Promise<void>((resolve) => {
    const tick = (): void => {
      const due = Math.min(total, Math.floor(((performance.now() - started) / 1000) * rate));
      while (sent < due) {
        sent += 1;
        const t0 = performance.now();
        pending.push(submit().then((id) => submittedAt.set(id, t0)));
      }
      if (sent >= total) resolve();
      else setTimeout(tick, 1);
    };
    tick();
  });
  await Promise.all(pending);
  // Its own jobs: with replicas, `completedAt` also holds the jobs other replicas submitted.
  const waiting = new Set(submittedAt.keys());
  await env.waitUntil(`${total} ${what} to complete`, () => {
    check();
    for (const id of waiting) if (completedAt.has(id)) waiting.delete(id);
    return waiting.size === 0;
  });
  const elapsedSeconds = (performance.now() - started) / 1000;
  return {
    samples: [...submittedAt].map(([id, t0]) => (completedAt.get(id) as number) - t0),
    elapsedSeconds,
  };
}

/** `openLoopSamples` summarized, with what the run cost each process. */
export async function openLoopLatency(...args: Parameters<typeof openLoopSamples>): Promise<LatencyResult> {
  const cpuBefore = cpuByRole();
  const { samples, elapsedSeconds } = await openLoopSamples(...args);
  return latencyResult(args[2], samples, elapsedSeconds, cpuBefore);
}

/** The row for `samples` taken over `elapsedSeconds` at an offered `rate`, with the CPU spent since `cpuBefore`. */
export function latencyResult(
  rate: number,
  samples: number[],
  elapsedSeconds: number,
  cpuBefore: CpuByRole | undefined,
): LatencyResult {
  const cpu = cpuPerJob(cpuBefore, cpuByRole(), samples.length);
  return {
    offeredPerSecond: rate,
    achievedPerSecond: Math.round(samples.length / elapsedSeconds),
    ...summarize(samples),
    ...(cpu !== undefined ? { cpuUsPerJob: cpu } : {}),
  };
}
