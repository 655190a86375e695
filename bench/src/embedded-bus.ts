import { createInProcessBus } from "@tessera/bus";
import { busSettingsFromSpec, SCHEMA_VERSION, type Job } from "@tessera/contract";
import { defineComponent, runWorker } from "@tessera/worker";
import { pino } from "pino";
import type { BenchEnv } from "./bench-env.js";
import { textPayload } from "./payloads.js";
import { BENCH_SPEC, WORKER_CONCURRENCY } from "./tessera-modes.js";
import { runMeasured, type ThroughputResult } from "./throughput.js";
import { windowed } from "./windowed.js";

/**
 * The embedded bus and worker without the coordinator and its store: jobs published on the in-process
 * bus, run by an in-process worker, their Results consumed. What embedded mode costs apart from the
 * database, for the 50,000 jobs/s target (docs/performance.md says which row that target is held to).
 */
export async function embeddedBusOnly(env: BenchEnv, jobs: number): Promise<ThroughputResult> {
  const bus = createInProcessBus();
  const component = "bench-bus-only";
  await bus.ensureComponent(busSettingsFromSpec(component, BENCH_SPEC));
  const worker = await runWorker(
    defineComponent({
      name: component,
      concurrency: WORKER_CONCURRENCY,
      isolation: "none",
      handle: async (ctx) => ({ bytes: (await ctx.input.bytes()).byteLength }),
    }),
    { bus, logger: pino({ level: "warn" }) },
  );
  let results = 0;
  const sub = await bus.consumeResults(() => void (results += 1));
  const input = textPayload(256);
  try {
    return await runMeasured(jobs, async () => {
      await windowed(jobs, 512, (i) => bus.publishJob(job(component, i, input)));
      await env.waitUntil(`${jobs} Results on the in-process bus`, () => results >= jobs);
    });
  } finally {
    await sub.stop();
    await worker.stop();
    await bus.close();
  }
}

function job(component: string, i: number, text: string): Job {
  return {
    schema_version: SCHEMA_VERSION,
    job_id: `bus-only-${i}`,
    component,
    content_type: "text/plain",
    limits: { max_bytes: 1_048_576, wall_clock: 60_000 },
    input: { inline: text },
  };
}
