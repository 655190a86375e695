import type { BenchEnv } from "./bench-env.js";
import { busOnlyLatency, drainBusOnly, startBusOnly } from "./embedded-bus.js";
import { ISOLATION_CONCURRENCY, inHandlerThreads, inWorkerThread } from "./isolation-components.js";
import type { LatencyResult } from "./open-loop.js";
import { round } from "./stats.js";
import type { ThroughputResult } from "./throughput.js";

export type IsolationPath = "in-thread" | "handler threads";

/** One path of the isolation comparison: the same no-op handler, the same concurrency, the same bus. */
export interface IsolationRow extends ThroughputResult {
  path: IsolationPath;
  concurrency: number;
  /** How long runWorker took to start (for handler threads: loading the component in the first thread). */
  startMs: number;
  /** RSS added by starting the worker and running the warm-up (for handler threads: its warm threads). */
  rssMiB: number;
  latency: LatencyResult;
}

/** Handler threads against the in-thread path, measured in the same run. */
export interface IsolationReport {
  rows: IsolationRow[];
  /** Handler threads' figure divided by the in-thread path's. */
  ratio?: { jobsPerSecond: number; cpuUsPerJob?: number; p50: number; p99: number };
}

/**
 * What isolation costs per job: the embedded bus and one worker (no coordinator, no store), whose no-op
 * handler runs in the worker's thread, then in handler threads; throughput over `jobs`, then latency at
 * `rate` jobs/s for `seconds`. A warm-up first runs enough jobs to start every thread and warm the JIT.
 */
export async function isolationCost(
  env: BenchEnv,
  opts: { jobs: number; rate: number; seconds: number; warmupJobs: number },
): Promise<IsolationReport> {
  const rows: IsolationRow[] = [];
  for (const [path, definition] of [
    ["in-thread", inWorkerThread],
    ["handler threads", inHandlerThreads],
  ] as const) {
    const rssBefore = process.memoryUsage.rss();
    const s = await startBusOnly(definition);
    try {
      await drainBusOnly(env, s, opts.warmupJobs);
      const rssMiB = round((process.memoryUsage.rss() - rssBefore) / 2 ** 20, 1);
      const throughput = await drainBusOnly(env, s, opts.jobs);
      const latency = await busOnlyLatency(env, s, opts.rate, opts.seconds);
      rows.push({
        path,
        concurrency: ISOLATION_CONCURRENCY,
        startMs: round(s.startMs, 0),
        rssMiB,
        ...throughput,
        latency,
      });
    } finally {
      await s.close();
    }
  }
  return { rows, ...ratioOf(rows) };
}

function ratioOf(rows: IsolationRow[]): Pick<IsolationReport, "ratio"> {
  const base = rows.find((r) => r.path === "in-thread");
  const isolated = rows.find((r) => r.path === "handler threads");
  if (base === undefined || isolated === undefined) return {};
  const cpu = (r: IsolationRow): number | undefined => r.cpuUsPerJob?.main;
  const baseCpu = cpu(base);
  const isolatedCpu = cpu(isolated);
  return {
    ratio: {
      jobsPerSecond: round(isolated.jobsPerSecond / base.jobsPerSecond),
      ...(baseCpu !== undefined && isolatedCpu !== undefined && baseCpu > 0
        ? { cpuUsPerJob: round(isolatedCpu / baseCpu) }
        : {}),
      p50: round(isolated.latency.p50 / base.latency.p50),
      p99: round(isolated.latency.p99 / base.latency.p99),
    },
  };
}
