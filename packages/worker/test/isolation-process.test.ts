/**
 * Handlers in handler threads, process mode: a worker process on a real nats-server is the host that must
 * keep serving while a handler spins or allocates without bound. The limits come from the environment,
 * as the controller and `tessera dev` set them from the Component's handlerLimits.
 */
import { connectJetStreamBus, type Bus } from "@tessera/bus";
import { ReasonCode, type Job, type Result } from "@tessera/contract";
import { pollHealth, startNatsServer, waitFor, type NatsServerHandle } from "@tessera/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { killWorker, spawnWorker, type ChildWorker } from "./child-worker.js";
import { mixed, type MixedInput } from "./fixtures/isolated-components.js";
import { makeJob } from "./helpers.js";

/** From the sources through tsx, on a busy machine, a process and each of its threads take seconds to start. */
const START_MS = 120_000;

let nats: NatsServerHandle;
let bus: Bus;
let worker: ChildWorker;
let port: number;

const limits = (wallClock: number): Pick<Job, "limits"> => ({
  limits: { max_bytes: 1_000_000, wall_clock: wallClock },
});
const job = (input: MixedInput, overrides: Partial<Job> = {}): Job =>
  makeJob(mixed.name, { input: { inline: input }, ...limits(60_000), ...overrides });
const resultOf = (jobId: string, timeoutMs = 60_000): Promise<Result> =>
  waitFor(`a Result for ${jobId}`, () => bus.getResult(mixed.name, jobId), timeoutMs, 5);
async function run(input: MixedInput): Promise<Result> {
  const j = job(input);
  await bus.publishJob(j);
  return resultOf(j.job_id);
}

beforeAll(async () => {
  nats = await startNatsServer();
  bus = await connectJetStreamBus({ servers: nats.url, name: "isolation-tests" });
  await bus.ensureComponent({ name: mixed.name, ackWaitMs: 5_000, maxDeliver: 2, duplicateWindowMs: 60_000 });
  worker = spawnWorker("isolated-worker.ts", {
    NATS_URL: nats.url,
    TESSERA_HTTP_PORT: "0",
    TESSERA_HANDLER_MAX_HEAP_MIB: "64",
    TESSERA_HANDLER_MAX_OUTPUT_BYTES: "10000",
  });
  const started = await worker.line("worker started", (l) => l["msg"] === "worker started", START_MS);
  port = started["httpPort"] as number;
  // Three warm threads (the component's concurrency) before anything is timed.
  const warmups = [1, 2, 3].map(() => job({ mode: "echo", sleepMs: 200 }, limits(START_MS)));
  for (const j of warmups) await bus.publishJob(j);
  for (const j of warmups) expect(await resultOf(j.job_id, START_MS)).toMatchObject({ status: "completed" });
}, START_MS + 60_000);

afterAll(async () => {
  if (worker !== undefined) await killWorker(worker);
  await bus?.close();
  await nats?.stop();
});

describe("a worker process with handler threads", { timeout: 150_000 }, () => {
  it("stops a busy loop at its 100 ms wall clock well under a second, and keeps serving /healthz and its other job", async () => {
    const health = pollHealth(`http://127.0.0.1:${port}/healthz`);
    const quick = job({ mode: "busy" }, limits(100));
    const long = job({ mode: "busy" }, limits(1_500));
    const other = job({ mode: "echo", sleepMs: 300 });
    const started = performance.now();
    for (const j of [quick, long, other]) await bus.publishJob(j);
    const result = await resultOf(quick.job_id, 5_000);
    const elapsed = performance.now() - started;
    expect(result).toMatchObject({ status: "failed", reason_code: ReasonCode.Timeout });
    expect(elapsed).toBeLessThan(1_000);
    expect(await resultOf(other.job_id)).toMatchObject({
      status: "completed",
      output: { data: { isMainThread: false } },
    });
    const during = await health.answers(3);
    expect(await resultOf(long.job_id, 5_000)).toMatchObject({ status: "failed", reason_code: ReasonCode.Timeout });
    const polled = await health.stop();
    expect(during.duringMs).toBeLessThan(1_500);
    expect(polled.failures).toEqual([]);
    expect(polled.maxMs).toBeLessThan(1_000);
  });

  it("ends a handler allocating without bound with memory_limit at the heap from TESSERA_HANDLER_MAX_HEAP_MIB; the process lives on", async () => {
    const health = pollHealth(`http://127.0.0.1:${port}/healthz`);
    const hog = job({ mode: "hog" });
    const other = job({ mode: "echo", sleepMs: 500 });
    for (const j of [hog, other]) await bus.publishJob(j);
    const result = await resultOf(hog.job_id);
    expect(result).toMatchObject({ status: "failed", reason_code: ReasonCode.MemoryLimit });
    expect(result.reason_detail).toContain("heap limit of 64 MiB");
    expect(await resultOf(other.job_id)).toMatchObject({ status: "completed" });
    expect((await health.stop()).failures).toEqual([]);
    expect(worker.proc.exitCode).toBeNull();
    expect(await run({ mode: "echo" })).toMatchObject({ status: "completed" });
  });

  it("fails an output over TESSERA_HANDLER_MAX_OUTPUT_BYTES with output_too_large", async () => {
    expect(await run({ mode: "sized", size: 20_000 })).toMatchObject({
      status: "failed",
      reason_code: ReasonCode.OutputTooLarge,
    });
    expect(await run({ mode: "sized", size: 10 })).toMatchObject({ status: "completed" });
  });
});

describe("the worker process's handler limits", () => {
  it("refuses a limit the Component spec would refuse, naming the variable", async () => {
    const w = spawnWorker("isolated-worker.ts", { NATS_URL: nats.url, TESSERA_HANDLER_MAX_HEAP_MIB: "8" });
    try {
      expect((await w.exited).code).toBe(1);
      const fatal = w.lines.find((l) => l["level"] === 60);
      expect(String(fatal?.["msg"])).toMatch(
        /TESSERA_HANDLER_MAX_HEAP_MIB="8": .*maxHeapMiB: expected integer to be greater or equal to 16/,
      );
    } finally {
      await killWorker(w);
    }
  });
});
