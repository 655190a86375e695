/**
 * Handlers in handler threads (isolation "thread", the default), embedded: the worker runs in this process
 * on the in-process bus, as in `tessera dev`, and this process is the host that must keep serving.
 */
import { createInProcessBus, type Bus } from "@tessera/bus";
import { ReasonCode, type Job, type Result } from "@tessera/contract";
import { pollHealth, waitFor } from "@tessera/testkit";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { defineComponent, runWorker, type WorkerHandle } from "../src/index.js";
import { heapMiBFor } from "../src/isolation/thread-executor.js";
import { mixed, single, type MixedInput } from "./fixtures/isolated-components.js";
import { bytesOf, makeJob } from "./helpers.js";

const MAX_HEAP_MIB = 64;
const MAX_OUTPUT_BYTES = 10_000;

const limits = (wallClock: number): Pick<Job, "limits"> => ({
  limits: { max_bytes: 1_000_000, wall_clock: wallClock },
});

let bus: Bus;
let worker: WorkerHandle;
const lines: Array<Record<string, unknown>> = [];

beforeAll(async () => {
  bus = createInProcessBus();
  await bus.ensureComponent({ name: mixed.name, ackWaitMs: 5_000, maxDeliver: 2, duplicateWindowMs: 60_000 });
  const logger = pino({ level: "info" }, { write: (line: string) => void lines.push(JSON.parse(line)) });
  worker = await runWorker(mixed, {
    bus,
    logger,
    heartbeatIntervalMs: 60_000,
    http: { host: "127.0.0.1", port: 0 },
    handlerLimits: { maxHeapMiB: MAX_HEAP_MIB, maxOutputBytes: MAX_OUTPUT_BYTES },
  });
  // Three warm threads (the component's concurrency), so the jobs timed below never wait for one to start
  // (from the sources through tsx, on a busy machine, a start can take many seconds).
  await Promise.all([1, 2, 3].map(() => run({ mode: "echo", sleepMs: 200 }, limits(120_000), 120_000)));
}, 180_000);
afterAll(async () => {
  await worker?.stop();
  await bus?.close();
});

/** A job for the component; a long wall clock unless given, as a job may wait for a thread to start. */
function job(input: MixedInput, overrides: Partial<Job> = {}): Job {
  return makeJob(mixed.name, { input: { inline: input }, ...limits(60_000), ...overrides });
}
async function run(input: MixedInput, overrides: Partial<Job> = {}, timeoutMs = 60_000): Promise<Result> {
  const j = job(input, overrides);
  await bus.publishJob(j);
  return waitFor(`a Result for ${j.job_id}`, () => bus.getResult(mixed.name, j.job_id), timeoutMs);
}

// Generous: a job may wait for a replacement thread to start, which from the sources can take many seconds.
const slow = { timeout: 150_000 };

describe("a handler in a thread", slow, () => {
  it("sees its job, input, config and metadata, and logs through the host's logger with the job's bindings", async () => {
    const j = job({ mode: "echo" }, { metadata: { tenant: "t1" }, shared_config: { model: "m-1" } });
    await bus.publishJob(j);
    const result = await waitFor("the Result", () => bus.getResult(mixed.name, j.job_id));
    expect(result).toMatchObject({
      status: "completed",
      output: {
        data: {
          input: { mode: "echo" },
          attempt: 1,
          config: { model: "m-1" },
          metadata: { tenant: "t1" },
          isMainThread: false,
        },
      },
    });
    expect(lines.find((l) => l["jobId"] === j.job_id && l["event"] === "echo")).toMatchObject({
      msg: "echoing",
      level: 30,
      component: mixed.name,
      attempt: 1,
    });
  });

  it("fails with the reason code of a TerminalError thrown in the thread", async () => {
    const result = await run({ mode: "fail", code: "not_today" });
    expect(result).toMatchObject({ status: "failed", reason_code: "not_today", reason_detail: "asked to fail" });
  });

  it("reads input by reference through the host, with max_bytes enforced, and stores payloads of its own job", async () => {
    const j = makeJob(mixed.name, { content_type: "application/octet-stream" });
    const ref = await bus.payloads.put(j.job_id, bytesOf("by reference"));
    await bus.publishJob({ ...j, input: { content_ref: ref } });
    const result = await waitFor("the Result", () => bus.getResult(mixed.name, j.job_id));
    const output = (result.output as { data: { inputBytes: number; text: string; ref: { object_ref: string } } }).data;
    expect(output).toMatchObject({ inputBytes: 12, text: "by reference" });
    const stored = await bus.payloads.get(output.ref as Parameters<Bus["payloads"]["get"]>[0], {
      jobId: j.job_id,
      maxBytes: 100,
    });
    expect(new TextDecoder().decode(stored)).toBe(`stored by ${j.job_id}`);

    const small = makeJob(mixed.name, {
      content_type: "application/octet-stream",
      limits: { max_bytes: 5, wall_clock: 10_000 },
    });
    const big = await bus.payloads.put(small.job_id, bytesOf("more than five bytes"));
    await bus.publishJob({ ...small, input: { content_ref: big } });
    expect(await waitFor("the Result", () => bus.getResult(mixed.name, small.job_id))).toMatchObject({
      status: "failed",
      reason_code: ReasonCode.PayloadTooLarge,
    });
  });
});

describe("limits the host enforces from outside the handler", slow, () => {
  it("a busy loop past a 100 ms wall clock ends timeout well under a second; the host's other job and /healthz keep answering", async () => {
    const health = pollHealth(`http://127.0.0.1:${worker.httpPort}/healthz`);
    const quick = job({ mode: "busy" }, limits(100));
    // A second busy loop that lasts long enough for the health checks to run while it spins.
    const long = job({ mode: "busy" }, limits(1_500));
    const other = job({ mode: "echo", sleepMs: 300 });
    const started = performance.now();
    for (const j of [quick, long, other]) await bus.publishJob(j);
    const result = await waitFor("the 100 ms job's Result", () => bus.getResult(mixed.name, quick.job_id), 5_000, 5);
    const elapsed = performance.now() - started;
    expect(result).toMatchObject({ status: "failed", reason_code: ReasonCode.Timeout });
    expect(result.reason_detail).toContain("wall clock limit of 100 ms");
    expect(elapsed).toBeLessThan(1_000);
    expect(await waitFor("the other job", () => bus.getResult(mixed.name, other.job_id), 60_000)).toMatchObject({
      status: "completed",
    });
    const polling = await health.answers(3);
    expect(await waitFor("the 1.5 s job", () => bus.getResult(mixed.name, long.job_id), 5_000)).toMatchObject({
      status: "failed",
      reason_code: ReasonCode.Timeout,
    });
    const polled = await health.stop();
    expect(polling.duringMs).toBeLessThan(1_500);
    expect(polled.failures).toEqual([]);
    expect(polled.maxMs).toBeLessThan(1_000);
    // The threads were stopped and replaced: the next jobs run.
    expect(await run({ mode: "echo" })).toMatchObject({ status: "completed" });
  });

  it("the deadline stops a busy loop too", async () => {
    const result = await run({ mode: "busy" }, { deadline: new Date(Date.now() + 150).toISOString() }, 5_000);
    expect(result).toMatchObject({ status: "failed", reason_code: ReasonCode.Timeout });
    expect(result.reason_detail).toContain("deadline");
  });

  it("a handler allocating without bound ends memory_limit; the host keeps serving and its other job completes", async () => {
    const health = pollHealth(`http://127.0.0.1:${worker.httpPort}/healthz`);
    const other = job({ mode: "echo", sleepMs: 500 });
    const hog = job({ mode: "hog" }, limits(60_000));
    await bus.publishJob(hog);
    await bus.publishJob(other);
    const result = await waitFor("the hog's Result", () => bus.getResult(mixed.name, hog.job_id), 60_000);
    expect(result).toMatchObject({ status: "failed", reason_code: ReasonCode.MemoryLimit });
    expect(result.reason_detail).toContain(`heap limit of ${MAX_HEAP_MIB} MiB`);
    expect(await waitFor("the other job", () => bus.getResult(mixed.name, other.job_id), 60_000)).toMatchObject({
      status: "completed",
    });
    const polled = await health.stop();
    expect(polled.failures).toEqual([]);
    expect(await run({ mode: "echo" })).toMatchObject({ status: "completed" });
  });

  it("output over handlerLimits.maxOutputBytes fails output_too_large, JSON or bytes; output under it completes", async () => {
    for (const input of [
      { mode: "sized", size: MAX_OUTPUT_BYTES + 1 },
      { mode: "sized", bytes: MAX_OUTPUT_BYTES + 1 },
    ] as const) {
      const result = await run(input);
      expect(result, JSON.stringify(input)).toMatchObject({ status: "failed", reason_code: ReasonCode.OutputTooLarge });
      expect(result.reason_detail).toContain(`over the limit of ${MAX_OUTPUT_BYTES} bytes`);
    }
    expect(await run({ mode: "sized", size: 100 })).toMatchObject({
      status: "completed",
      output: { data: "x".repeat(100) },
    });
    const bytes = await run({ mode: "sized", bytes: 100 });
    expect(bytes.output?.result_ref).toBeDefined();
  });

  it("a thread that crashes under its job is replaced and the job retried, not failed", async () => {
    const crash = job({ mode: "crash" });
    await bus.publishJob(crash);
    await waitFor("the retry's log line", () =>
      lines.some(
        (l) =>
          l["jobId"] === crash.job_id &&
          l["msg"] === "handler failed; the job will be retried" &&
          JSON.stringify(l["err"]).includes("the handler's thread ended while running the job"),
      ),
    );
    expect(await bus.getResult(mixed.name, crash.job_id)).toBeUndefined();
    expect(await run({ mode: "echo" })).toMatchObject({ status: "completed" });
  });
});

describe("stopping", slow, () => {
  it("past the drain grace, a handler spinning in its thread is stopped and its job goes back to the queue", async () => {
    const own = createInProcessBus();
    await own.ensureComponent({ name: mixed.name, ackWaitMs: 5_000, maxDeliver: 2, duplicateWindowMs: 60_000 });
    const stopping = await runWorker(mixed, { bus: own, logger: pino({ level: "silent" }), drainGraceMs: 100 });
    try {
      await own.publishJob(job({ mode: "busy" }));
      await waitFor("the job to run", () => stopping.inFlight === 1);
      const started = performance.now();
      await stopping.stop();
      expect(performance.now() - started).toBeLessThan(5_000);
      expect(await own.queueDepth(mixed.name)).toMatchObject({ total: 1 });
    } finally {
      await stopping.stop();
      await own.close();
    }
  });
});

describe("starting", slow, () => {
  it("derives a job's heap from its max_bytes unless the Component sets it, in powers of two from 256 MiB to 4 GiB", () => {
    const MiB = 2 ** 20;
    expect([1_000, 20 * MiB, 32 * MiB, 33 * MiB, 64 * MiB, 2 ** 40].map((b) => heapMiBFor(b, undefined))).toEqual([
      256, 256, 256, 512, 512, 4_096,
    ]);
    expect(heapMiBFor(64 * MiB, { maxHeapMiB: 100 })).toBe(100);
  });

  it("starts even when a job that needs another heap takes the place of the thread it was warming", async () => {
    const own = createInProcessBus();
    await own.ensureComponent({ name: single.name, ackWaitMs: 5_000, maxDeliver: 2, duplicateWindowMs: 60_000 });
    const big = makeJob(single.name, { limits: { max_bytes: 64 * 2 ** 20, wall_clock: 60_000 } });
    await own.publishJob(big);
    const w = await runWorker(single, { bus: own, logger: pino({ level: "silent" }) });
    try {
      const result = await waitFor("the Result", () => own.getResult(single.name, big.job_id), 120_000);
      expect(result).toMatchObject({ status: "completed", output: { data: { isMainThread: false } } });
    } finally {
      await w.stop();
      await own.close();
    }
  });

  it("rejects with why when the module does not define the component", async () => {
    const definition = defineComponent({ name: "iso-missing", module: mixed.module, handle: () => undefined });
    await expect(runWorker(definition, { bus, logger: pino({ level: "silent" }) })).rejects.toThrow(
      /defined no component named "iso-missing" when a handler thread imported it \(it defined: "iso-mixed", "iso-single"\)/,
    );
  });

  it("rejects with why when the module cannot be imported", async () => {
    const definition = defineComponent({
      name: "iso-nowhere",
      module: new URL("./fixtures/no-such-module.ts", import.meta.url),
      handle: () => undefined,
    });
    await expect(runWorker(definition, { bus, logger: pino({ level: "silent" }) })).rejects.toThrow(
      /cannot import .*no-such-module\.ts/,
    );
  });
});
