import { createInProcessBus, type Bus } from "@tessera/bus";
import { busSettingsFromSpec, SCHEMA_VERSION, type Job } from "@tessera/contract";
import { defineComponent, runWorker, type ComponentDefinition } from "@tessera/worker";
import { pino } from "pino";
import type { BenchEnv } from "./bench-env.js";
import { noopHandler } from "./isolation-components.js";
import { openLoopLatency, type LatencyResult } from "./open-loop.js";
import { textPayload } from "./payloads.js";
import { BENCH_SPEC, WORKER_CONCURRENCY } from "./tessera-modes.js";
import { runMeasured, type ThroughputResult } from "./throughput.js";
import { windowed } from "./windowed.js";

/** In the worker's own thread, as the other embedded rows measure the platform without handler isolation. */
const busOnlyComponent = defineComponent({
  name: "bench-bus-only",
  concurrency: WORKER_CONCURRENCY,
  isolation: "none",
  handle: noopHandler,
});

/** The embedded bus with a worker running `definition`, and the Results it publishes, counted and timed. */
export interface BusOnly {
  bus: Bus;
  component: string;
  /** When each job's Result was seen (performance.now()). */
  completedAt: Map<string, number>;
  results(): number;
  /** How long runWorker took to start: for handler threads, the first thread's start. */
  startMs: number;
  close(): Promise<void>;
}

export async function startBusOnly(definition: ComponentDefinition): Promise<BusOnly> {
  const bus = createInProcessBus();
  await bus.ensureComponent(busSettingsFromSpec(definition.name, BENCH_SPEC));
  const t0 = performance.now();
  const worker = await runWorker(definition, { bus, logger: pino({ level: "warn" }) });
  const startMs = performance.now() - t0;
  const completedAt = new Map<string, number>();
  let results = 0;
  const sub = await bus.consumeResults((e) => {
    results += 1;
    if (e.kind === "result") completedAt.set(e.result.job_id, performance.now());
  });
  return {
    bus,
    component: definition.name,
    completedAt,
    results: () => results,
    startMs,
    async close() {
      await sub.stop();
      await worker.stop();
      await bus.close();
    },
  };
}

const input = textPayload(256);
let published = 0;

/** Publishes `jobs` jobs (at most 512 unanswered at once) and waits for all their Results. */
export function drainBusOnly(env: BenchEnv, s: BusOnly, jobs: number): Promise<ThroughputResult> {
  const target = s.results() + jobs;
  return runMeasured(jobs, async () => {
    await windowed(jobs, 512, () => s.bus.publishJob(job(s.component, input)));
    await env.waitUntil(`${jobs} Results on the in-process bus`, () => s.results() >= target);
  });
}

/** Publishes at `rate` jobs/s for `seconds` and times each job from its publish to its Result. */
export function busOnlyLatency(env: BenchEnv, s: BusOnly, rate: number, seconds: number): Promise<LatencyResult> {
  s.completedAt.clear();
  return openLoopLatency(
    env,
    `${s.component} jobs`,
    rate,
    seconds,
    async () => {
      const j = job(s.component, input);
      await s.bus.publishJob(j);
      return j.job_id;
    },
    s.completedAt,
  );
}

/**
 * The embedded bus and worker without the coordinator and its store: jobs published on the in-process
 * bus, run by an in-process worker, their Results consumed. What embedded mode costs apart from the
 * database, for the 50,000 jobs/s target (docs/performance.md says which row that target is held to).
 */
export async function embeddedBusOnly(env: BenchEnv, jobs: number): Promise<ThroughputResult> {
  const s = await startBusOnly(busOnlyComponent);
  try {
    return await drainBusOnly(env, s, jobs);
  } finally {
    await s.close();
  }
}

function job(component: string, text: string): Job {
  return {
    schema_version: SCHEMA_VERSION,
    job_id: `bus-only-${process.pid}-${++published}`,
    component,
    content_type: "text/plain",
    limits: { max_bytes: 1_048_576, wall_clock: 60_000 },
    input: { inline: text },
  };
}
