import { randomUUID } from "node:crypto";
import { createInProcessBus, type Bus } from "@tessera/bus";
import { ComponentDefaults, SCHEMA_VERSION, type Job, type Result } from "@tessera/contract";
import { waitFor } from "@tessera/testkit";
import { runWorker, type ComponentDefinition, type WorkerHandle } from "@tessera/worker";
import { pino } from "pino";

export interface SubmitOptions {
  contentType: string;
  /** Bytes go by reference through the payload store, as the coordinator sends them; anything else inline. */
  input: Uint8Array | unknown;
  sharedConfig?: Record<string, unknown>;
}

export interface InProcessPipeline {
  bus: Bus;
  /** Publishes one job and resolves with its Result. */
  run(component: string, options: SubmitOptions): Promise<Result>;
  stop(): Promise<void>;
}

/** The components' real workers on an in-process bus: what `tessera dev` runs, minus the coordinator. */
export async function startInProcessPipeline(definitions: ComponentDefinition[]): Promise<InProcessPipeline> {
  const bus = createInProcessBus();
  const logger = pino({ level: process.env["TEST_LOG_LEVEL"] ?? "silent" });
  const workers: WorkerHandle[] = [];
  for (const definition of definitions) {
    await bus.ensureComponent({
      name: definition.name,
      ackWaitMs: 10_000,
      maxDeliver: 3,
      duplicateWindowMs: ComponentDefaults.duplicateWindowMs,
    });
    workers.push(await runWorker(definition, { bus, logger, heartbeatIntervalMs: 60_000 }));
  }
  return {
    bus,
    async run(component, { contentType, input, sharedConfig }) {
      const jobId = randomUUID();
      const job: Job = {
        schema_version: SCHEMA_VERSION,
        job_id: jobId,
        component,
        content_type: contentType,
        limits: { max_bytes: 8 * 1024 * 1024, wall_clock: 20_000 },
        input: input instanceof Uint8Array ? { content_ref: await bus.payloads.put(jobId, input) } : { inline: input },
        ...(sharedConfig !== undefined ? { shared_config: sharedConfig } : {}),
      };
      await bus.publishJob(job);
      return waitFor(`the Result of ${component} job ${jobId}`, () => bus.getResult(component, jobId), 20_000);
    },
    async stop() {
      await Promise.all(workers.map((w) => w.stop()));
      await bus.close();
    },
  };
}
