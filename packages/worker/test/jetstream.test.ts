/**
 * The worker on a real nats-server with JetStream: crash and redelivery across processes, retries to
 * exhaustion, timeouts, payloads by reference, malformed envelopes, and the process entry's signals.
 */
import { createHash, randomBytes } from "node:crypto";
import { connectJetStreamBus, type Bus, type ExhaustedDelivery, type Subscription } from "@tessera/bus";
import type { Result } from "@tessera/contract";
import { sleep, startNatsServer, waitFor, type NatsServerHandle } from "@tessera/testkit";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { TerminalError, defineComponent, runWorker, type WorkerHandle } from "../src/index.js";
import { killWorker, spawnWorker, type ChildWorker } from "./child-worker.js";
import { bytesOf, componentName, makeJob, newJobId, silent } from "./helpers.js";

let nats: NatsServerHandle;
let bus: Bus;
const results: Result[] = [];
let resultsSub: Subscription;

beforeAll(async () => {
  nats = await startNatsServer();
  bus = await connectJetStreamBus({ servers: nats.url, name: "worker-tests" });
  // The coordinator's view: every Result published, counted (not just the latest per job).
  resultsSub = await bus.consumeResults((e) => void (e.kind === "result" && results.push(e.result)));
});
afterAll(async () => {
  await resultsSub?.stop();
  await bus?.close();
  await nats?.stop();
});

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});

async function provision(opts: { ackWaitMs?: number; maxDeliver?: number } = {}): Promise<string> {
  const name = componentName("js");
  await bus.ensureComponent({
    name,
    ackWaitMs: opts.ackWaitMs ?? 1_000,
    maxDeliver: opts.maxDeliver ?? 5,
    duplicateWindowMs: 60_000,
  });
  return name;
}
async function worker(...args: Parameters<typeof runWorker>): Promise<WorkerHandle> {
  const w = await runWorker(...args);
  cleanups.push(() => w.stop());
  return w;
}
function child(fixture: string, env: Record<string, string | undefined>): ChildWorker {
  const w = spawnWorker(fixture, { NATS_URL: nats.url, TESSERA_HEARTBEAT_INTERVAL_MS: "500", ...env });
  cleanups.push(() => killWorker(w));
  return w;
}
const resultOf = (component: string, jobId: string, timeoutMs = 15_000): Promise<Result> =>
  waitFor(`a Result for ${jobId}`, () => bus.getResult(component, jobId), timeoutMs);
/**
 * A worker process of napping-worker.ts runs its handler in a handler thread (the default), which loads the
 * sources through tsx: on a busy machine a process and its first thread can take many seconds to start.
 */
const PROCESS_START_MS = 60_000;
const processTest = { timeout: 180_000 };

describe("crash and redelivery across processes", () => {
  it(
    "a worker SIGKILLed mid-job: the job is redelivered to another worker and exactly one completed Result exists",
    processTest,
    async () => {
      const name = await provision({ ackWaitMs: 1_000 });
      const a = child("napping-worker.ts", { TEST_COMPONENT: name, TESSERA_INSTANCE_ID: "worker-a" });
      await a.line("worker A bound", (l) => l["msg"] === "job consumer bound; ready", PROCESS_START_MS);
      const job = makeJob(name, { input: { inline: { sleepMs: 1_500 } } });
      await bus.publishJob(job);
      await a.line(
        "worker A started the job",
        (l) => l["event"] === "job-started" && l["jobId"] === job.job_id,
        PROCESS_START_MS,
      );
      a.proc.kill("SIGKILL");
      expect((await a.exited).signal).toBe("SIGKILL");

      const b = child("napping-worker.ts", { TEST_COMPONENT: name, TESSERA_INSTANCE_ID: "worker-b" });
      const result = await resultOf(name, job.job_id, PROCESS_START_MS);
      expect(result).toMatchObject({
        status: "completed",
        instance_id: "worker-b",
        output: { data: { ranBy: "worker-b" } },
      });
      // Let any stray duplicate arrive before counting.
      await waitFor("the Result on the coordinator's consumer", () => results.some((r) => r.job_id === job.job_id));
      await sleep(1_500);
      expect(results.filter((r) => r.job_id === job.job_id)).toHaveLength(1);
      expect(b.lines.filter((l) => l["event"] === "job-started" && l["jobId"] === job.job_id)).toHaveLength(1);
      expect(await bus.queueDepth(name)).toMatchObject({ total: 0 });
    },
  );
});

describe("retries and exhaustion", () => {
  it("a job that always throws is retried with backoff until max deliveries, then observed as exhausted", async () => {
    const name = await provision({ ackWaitMs: 1_000, maxDeliver: 3 });
    const exhausted: ExhaustedDelivery[] = [];
    const sub = await bus.observeExhausted((e) => void (e.component === name && exhausted.push(e)));
    cleanups.push(() => sub.stop());
    const attempts: Array<{ attempt: number; at: number }> = [];
    const w = await worker(
      defineComponent({
        isolation: "none",
        name,
        retry: { baseDelayMs: 50, maxDelayMs: 400 },
        handle: (ctx) => {
          attempts.push({ attempt: ctx.attempt, at: Date.now() });
          throw new Error(`always fails (attempt ${ctx.attempt})`);
        },
      }),
      { bus, logger: silent, heartbeatIntervalMs: 60_000 },
    );
    const job = makeJob(name);
    const { seq } = await bus.publishJob(job);
    const event = await waitFor("the exhaustion", () => exhausted.find((e) => e.streamSeq === seq), 20_000);
    expect(event).toMatchObject({ component: name, deliveries: 3, dedupKey: job.job_id });
    expect(JSON.parse(new TextDecoder().decode(event.data))).toMatchObject({ job_id: job.job_id });
    expect(attempts.map((a) => a.attempt)).toEqual([1, 2, 3]);
    // Backed off, not hammered (the nak delays are at least 25 ms and 50 ms; the ack wait is 1 s).
    expect((attempts[1]?.at ?? 0) - (attempts[0]?.at ?? 0)).toBeGreaterThanOrEqual(20);
    expect((attempts[2]?.at ?? 0) - (attempts[1]?.at ?? 0)).toBeLessThan(1_000);
    expect(await bus.getResult(name, job.job_id)).toBeUndefined(); // the coordinator dead-letters it, not the worker
    const metric = await w.metrics.getSingleMetric("tessera_jobs_total")?.get();
    expect(metric?.values.find((v) => v.labels["outcome"] === "retried")?.value).toBe(3);
  });
});

describe("limits on JetStream", () => {
  it("a wall-clock timeout gives a failed Result with reason `timeout` and the job leaves the queue", async () => {
    const name = await provision();
    await worker(defineComponent({ isolation: "none", name, handle: () => new Promise(() => undefined) }), {
      bus,
      logger: silent,
      heartbeatIntervalMs: 60_000,
    });
    const job = makeJob(name, { limits: { max_bytes: 1_000, wall_clock: 200 } });
    await bus.publishJob(job);
    expect(await resultOf(name, job.job_id)).toMatchObject({ status: "failed", reason_code: "timeout" });
    await waitFor("the job termed", async () => (await bus.queueDepth(name)).total === 0);
  });

  it("a 5 MB payload travels by reference; over max_bytes it is refused with `payload_too_large`", async () => {
    const name = await provision();
    await worker(
      defineComponent({
        isolation: "none",
        name,
        handle: async (ctx) => {
          const bytes = await ctx.input.bytes();
          return {
            length: bytes.length,
            sha256: createHash("sha256").update(bytes).digest("hex"),
            big: "y".repeat(100_000),
          };
        },
      }),
      { bus, logger: silent, heartbeatIntervalMs: 60_000 },
    );
    const five = randomBytes(5 * 1024 * 1024);

    const fits = makeJob(name, {
      content_type: "application/octet-stream",
      limits: { max_bytes: 6 * 1024 * 1024, wall_clock: 20_000 },
    });
    const ref = await bus.payloads.put(fits.job_id, five);
    expect(ref.byte_size).toBe(five.length);
    await bus.publishJob({ ...fits, input: { content_ref: ref } });
    const ok = await resultOf(name, fits.job_id);
    expect(ok.status).toBe("completed");
    // The output is > 64 KiB of JSON, so it came back by reference too.
    const outRef = ok.output?.result_ref;
    expect(outRef).toBeDefined();
    const out = JSON.parse(
      new TextDecoder().decode(await bus.payloads.get(outRef!, { jobId: fits.job_id, maxBytes: 1_000_000 })),
    ) as { length: number; sha256: string };
    expect(out.length).toBe(five.length);
    expect(out.sha256).toBe(createHash("sha256").update(five).digest("hex"));

    const tooBig = makeJob(name, {
      content_type: "application/octet-stream",
      limits: { max_bytes: 1024 * 1024, wall_clock: 20_000 },
    });
    const bigRef = await bus.payloads.put(tooBig.job_id, five);
    await bus.publishJob({ ...tooBig, input: { content_ref: bigRef } });
    expect(await resultOf(name, tooBig.job_id)).toMatchObject({ status: "failed", reason_code: "payload_too_large" });

    // A reference that understates its size is caught while reading.
    const liar = makeJob(name, {
      content_type: "application/octet-stream",
      limits: { max_bytes: 1024 * 1024, wall_clock: 20_000 },
    });
    const liarRef = await bus.payloads.put(liar.job_id, five);
    await bus.publishJob({ ...liar, input: { content_ref: { ...liarRef, byte_size: 100 } } });
    expect(await resultOf(name, liar.job_id)).toMatchObject({ status: "failed", reason_code: "payload_too_large" });
  });
});

describe("malformed envelopes on JetStream", () => {
  it("are termed with their reason recorded, and the worker goes on with the next job", async () => {
    const name = await provision();
    let calls = 0;
    await worker(
      defineComponent({
        isolation: "none",
        name,
        handle: (ctx) => {
          calls++;
          if (ctx.job.metadata?.["terminal"] === "yes") throw new TerminalError("refused", "terminal on purpose");
          return "valid ran";
        },
      }),
      { bus, logger: silent, heartbeatIntervalMs: 60_000 },
    );
    const base = (patch: Record<string, unknown>): Uint8Array => bytesOf({ ...makeJob(name), ...patch });
    const wrongTypes = newJobId();
    const bothModes = newJobId();
    const futureVersion = newJobId();
    const noIdKey = newJobId("key");
    const { job_id: _drop, ...noId } = makeJob(name);

    await bus.publishRawJob(name, new Uint8Array([0xc3, 0x28, 0x7b])); // not UTF-8, not JSON, no dedup key
    await bus.publishRawJob(name, base({ job_id: wrongTypes, limits: { max_bytes: "x", wall_clock: -1 } }));
    await bus.publishRawJob(
      name,
      base({ job_id: bothModes, input: { inline: 1, source_locator: { source_url: "https://x" } } }),
    );
    await bus.publishRawJob(name, base({ job_id: futureVersion, schema_version: 2 }));
    await bus.publishRawJob(name, bytesOf(noId), { dedupKey: noIdKey });
    await bus.publishRawJob(name, bytesOf(noId)); // no job id anywhere
    const valid = makeJob(name);
    await bus.publishJob(valid);
    const terminal = makeJob(name, { metadata: { terminal: "yes" } });
    await bus.publishJob(terminal);

    expect(await resultOf(name, valid.job_id)).toMatchObject({ status: "completed", output: { data: "valid ran" } });
    expect(await resultOf(name, terminal.job_id)).toMatchObject({ status: "failed", reason_code: "refused" });
    const wt = await resultOf(name, wrongTypes);
    expect(wt).toMatchObject({ status: "failed", reason_code: "invalid_envelope" });
    expect(wt.reason_detail).toContain("limits.max_bytes");
    expect(await resultOf(name, bothModes)).toMatchObject({
      status: "failed",
      reason_code: "invalid_envelope",
      reason_detail: expect.stringContaining("input"),
    });
    expect(await resultOf(name, futureVersion)).toMatchObject({
      status: "failed",
      reason_code: "unsupported_schema_version",
    });
    expect(await resultOf(name, noIdKey)).toMatchObject({
      status: "failed",
      reason_code: "invalid_envelope",
      reason_detail: expect.stringContaining("job_id"),
    });
    const letters = await waitFor("two dead letters", async () => {
      const l = await bus.listDeadLetters(name);
      return l.length >= 2 ? l : undefined;
    });
    expect(letters.map((l) => l.reasonCode)).toEqual(["invalid_envelope", "invalid_envelope"]);
    expect(letters.map((l) => l.jobId)).toEqual([undefined, undefined]);
    expect(letters[0]?.reasonDetail).toMatch(/\(root\): expected a UTF-8 JSON document/);
    expect(letters[1]?.reasonDetail).toContain("job_id");
    await waitFor("every message termed or acked", async () => (await bus.queueDepth(name)).total === 0);
    expect(calls).toBe(2);
  });
});

describe("the worker process entry", () => {
  it("SIGTERM drains: the running job finishes, its Result is stored, the process exits 0", processTest, async () => {
    const name = await provision();
    const w = child("napping-worker.ts", { TEST_COMPONENT: name, TESSERA_INSTANCE_ID: "drainer" });
    await w.line("bound", (l) => l["msg"] === "job consumer bound; ready", PROCESS_START_MS);
    const job = makeJob(name, { input: { inline: { sleepMs: 800 } } });
    await bus.publishJob(job);
    await w.line("job started", (l) => l["event"] === "job-started", PROCESS_START_MS);
    w.proc.kill("SIGTERM");
    expect(await w.exited).toEqual({ code: 0, signal: null });
    expect(await bus.getResult(name, job.job_id)).toMatchObject({ status: "completed", instance_id: "drainer" });
    expect(w.lines.some((l) => l["msg"] === "draining before exit")).toBe(true);
  });

  it(
    "Kubernetes mode only binds: not ready (503 with the reason) until the consumer exists, then ready",
    processTest,
    async () => {
      const name = componentName("k8s");
      const w = child("napping-worker.ts", {
        TEST_COMPONENT: name,
        TESSERA_MODE: "kubernetes",
        TESSERA_HTTP_PORT: "0",
      });
      const started = await w.line("started", (l) => l["msg"] === "worker started", PROCESS_START_MS);
      expect(started).toMatchObject({ mode: "kubernetes" });
      const port = started["httpPort"] as number;
      const r = await fetch(`http://127.0.0.1:${port}/readyz`);
      expect(r.status).toBe(503);
      expect(((await r.json()) as { reason: string }).reason).toMatch(/not provisioned/);
      expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);

      await bus.ensureComponent({ name, ackWaitMs: 1_000, maxDeliver: 5, duplicateWindowMs: 60_000 });
      await waitFor("ready", async () => (await fetch(`http://127.0.0.1:${port}/readyz`)).status === 200, 15_000);
      const job = makeJob(name);
      await bus.publishJob(job);
      expect(await resultOf(name, job.job_id)).toMatchObject({ status: "completed" });
    },
  );

  it("without NATS_URL it exits 1 with a clear fatal line", async () => {
    const w = spawnWorker("napping-worker.ts", { NATS_URL: "", TEST_COMPONENT: "no-nats" });
    cleanups.push(() => killWorker(w));
    expect((await w.exited).code).toBe(1);
    const fatal = w.lines.find((l) => l["level"] === 60);
    expect(fatal?.["msg"]).toMatch(/NATS_URL is not set/);
  });
});
