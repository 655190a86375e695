import { afterEach } from "vitest";
import { createInProcessBus, type Bus } from "@tessera/bus";
import { SCHEMA_VERSION, type Job, type Result } from "@tessera/contract";
import { waitFor } from "@tessera/testkit";

export { spyingBus, type SettleEvent } from "@tessera/testkit";
import { pino } from "pino";
import {
  defineComponent,
  runWorker,
  type ComponentOptions,
  type RunWorkerOptions,
  type WorkerHandle,
} from "../src/index.js";

export const silent = pino({ level: process.env["TEST_LOG_LEVEL"] ?? "silent" });

let counter = 0;
/** A unique, valid job id. */
export function newJobId(prefix = "job"): string {
  return `${prefix}-${process.pid}-${Date.now().toString(36)}-${++counter}`;
}

/** A valid job for `component` with an inline input; override anything. */
export function makeJob(component: string, overrides: Partial<Job> = {}): Job {
  return {
    schema_version: SCHEMA_VERSION,
    job_id: newJobId(),
    component,
    content_type: "application/json",
    limits: { max_bytes: 1_000_000, wall_clock: 10_000 },
    input: { inline: { hello: "world" } },
    ...overrides,
  };
}

export const utf8 = new TextEncoder();
export const bytesOf = (value: unknown): Uint8Array =>
  utf8.encode(typeof value === "string" ? value : JSON.stringify(value));

export interface Harness {
  bus: Bus;
  name: string;
  worker: WorkerHandle;
  result(jobId: string, timeoutMs?: number): Promise<Result>;
  stop(): Promise<void>;
}

let componentCounter = 0;
export function componentName(prefix = "comp"): string {
  return `${prefix}-${++componentCounter}`;
}

/**
 * An in-process bus with the component provisioned (short ack wait) and a worker running `options`.
 * `wrap` can replace the bus the worker sees (the test keeps the real one).
 */
export async function startHarness<T>(
  options: Omit<ComponentOptions<T>, "name"> & { name?: string },
  opts: {
    ackWaitMs?: number;
    maxDeliver?: number;
    bus?: Bus;
    wrap?: (bus: Bus) => Bus;
    worker?: Partial<Omit<RunWorkerOptions, "bus">>;
  } = {},
): Promise<Harness> {
  const bus = opts.bus ?? createInProcessBus();
  const name = options.name ?? componentName();
  await bus.ensureComponent({
    name,
    ackWaitMs: opts.ackWaitMs ?? 1_000,
    maxDeliver: opts.maxDeliver ?? 5,
    duplicateWindowMs: 60_000,
  });
  // A test's handlers are closures over its state: they run in the test's own thread unless it says otherwise.
  const definition = defineComponent({
    retry: { baseDelayMs: 20, maxDelayMs: 100 },
    isolation: "none",
    ...options,
    name,
  });
  const worker = await runWorker(definition, {
    logger: silent,
    heartbeatIntervalMs: 60_000,
    ...opts.worker,
    bus: opts.wrap ? opts.wrap(bus) : bus,
  });
  return {
    bus,
    name,
    worker,
    result: (jobId, timeoutMs = 5_000) => waitFor(`a Result for ${jobId}`, () => bus.getResult(name, jobId), timeoutMs),
    stop: async () => {
      await worker.stop();
      await bus.close();
    },
  };
}

/** A `harness()` for a test file: each harness it starts is stopped after the test that started it. */
export function harnessPerTest(): (...args: Parameters<typeof startHarness>) => Promise<Harness> {
  const open: Harness[] = [];
  afterEach(async () => {
    await Promise.all(open.splice(0).map((h) => h.stop()));
  });
  return async (...args) => {
    const h = await startHarness(...args);
    open.push(h);
    return h;
  };
}
