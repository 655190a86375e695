import { createInProcessBus } from "@tessera/bus";
import { sleep, waitFor } from "@tessera/testkit";
import { afterEach, describe, expect, it } from "vitest";
import { defineComponent, retryDelayMs, runWorker, TerminalError, type WorkerHandle } from "@tessera/worker";
import { makeJob, provisioned, quietLogger, ResultCollector } from "./harness.js";

const started: WorkerHandle[] = [];
async function start(...args: Parameters<typeof runWorker>): Promise<WorkerHandle> {
  const w = await runWorker(args[0], { logger: quietLogger, ...args[1] });
  started.push(w);
  return w;
}
afterEach(async () => {
  await Promise.all(started.splice(0).map((w) => w.stop()));
});

describe("defineComponent", () => {
  it("validates its options with actionable messages", () => {
    expect(() => defineComponent({ name: "Bad_Name", handle: () => undefined })).toThrow(/DNS-1123/);
    expect(() => defineComponent({ name: "ok", concurrency: 0, handle: () => undefined })).toThrow(/concurrency: expected an integer >= 1/);
    expect(() => new TerminalError("Not Valid", "x")).toThrow(/reasonCode/);
  });
});

describe("retryDelayMs", () => {
  it("grows exponentially, is capped, and jitters within [0.5, 1] of the step", () => {
    const policy = { baseDelayMs: 100, maxDelayMs: 1_000 };
    expect(retryDelayMs(1, policy, () => 1)).toBe(100);
    expect(retryDelayMs(3, policy, () => 1)).toBe(400);
    expect(retryDelayMs(10, policy, () => 1)).toBe(1_000);
    expect(retryDelayMs(3, policy, () => 0)).toBe(200);
    for (let i = 0; i < 100; i++) {
      const d = retryDelayMs(2, policy);
      expect(d).toBeGreaterThanOrEqual(100);
      expect(d).toBeLessThanOrEqual(200);
    }
  });
});

describe("worker runtime on the in-process bus", () => {
  it("routes a return to a completed Result (inline data) and acks", async () => {
    const bus = await provisioned("echo");
    const results = await new ResultCollector(bus).start();
    await start(defineComponent({ name: "echo", handle: async (ctx) => ({ text: await ctx.input.text(), cfg: ctx.config["model"] }) }), { bus });
    const job = makeJob("echo", { input: { inline: "hi" }, shared_config: { model: "m-1" } });
    await bus.publishJob(job);
    await waitFor("the result", () => results.for(job.job_id).length === 1);
    expect(results.for(job.job_id)[0]).toMatchObject({ status: "completed", attempt: 1, output: { data: { text: "hi", cfg: "m-1" } } });
    await waitFor("an empty queue", async () => (await bus.queueDepth("echo")).total === 0);
  });

  it("stores byte outputs and large JSON by reference", async () => {
    const bus = await provisioned("blob");
    const results = await new ResultCollector(bus).start();
    await start(defineComponent({ name: "blob", handle: (ctx) => (ctx.metadata["kind"] === "bytes" ? new Uint8Array([1, 2, 3]) : { big: "x".repeat(70_000) }) }), { bus });
    const a = makeJob("blob", { metadata: { kind: "bytes" } });
    const b = makeJob("blob", { metadata: { kind: "json" } });
    await bus.publishJob(a);
    await bus.publishJob(b);
    await waitFor("both results", () => results.all.length === 2);
    const ra = results.for(a.job_id)[0];
    expect(ra?.output?.result_ref?.byte_size).toBe(3);
    const bytes = await bus.payloads.get(ra?.output?.result_ref as never, { jobId: a.job_id, maxBytes: 10 });
    expect([...bytes]).toEqual([1, 2, 3]);
    expect(results.for(b.job_id)[0]?.output?.result_ref?.byte_size).toBeGreaterThan(70_000);
  });

  it("routes a TerminalError to a failed Result with its reason, then term (no retry)", async () => {
    const bus = await provisioned("term");
    const results = await new ResultCollector(bus).start();
    let runs = 0;
    await start(defineComponent({ name: "term", handle: () => { runs++; throw new TerminalError("unsupported_format", "cannot read \u0000this"); } }), { bus });
    const job = makeJob("term");
    await bus.publishJob(job);
    await waitFor("the result", () => results.for(job.job_id).length === 1);
    expect(results.for(job.job_id)[0]).toMatchObject({ status: "failed", reason_code: "unsupported_format", reason_detail: "cannot read this" });
    await sleep(200);
    expect(runs).toBe(1);
    expect((await bus.queueDepth("term")).total).toBe(0);
  });

  it("retries other errors with backoff until one succeeds", async () => {
    const bus = await provisioned("flaky");
    const results = await new ResultCollector(bus).start();
    const at: number[] = [];
    await start(defineComponent({ name: "flaky", retry: { baseDelayMs: 100, maxDelayMs: 1_000 }, handle: (ctx) => { at.push(Date.now()); if (ctx.attempt < 3) throw new Error("transient"); return "ok"; } }), { bus });
    const job = makeJob("flaky");
    await bus.publishJob(job);
    await waitFor("the result", () => results.for(job.job_id).length === 1, 10_000);
    expect(results.for(job.job_id)[0]).toMatchObject({ status: "completed", attempt: 3 });
    expect((at[1] as number) - (at[0] as number)).toBeGreaterThanOrEqual(45);
    expect((at[2] as number) - (at[1] as number)).toBeGreaterThanOrEqual(95);
  });

  it("exhausts max deliveries for a job that always throws; the exhaustion is observable", async () => {
    const bus = await provisioned("poison", { maxDeliver: 3 });
    const events: number[] = [];
    await bus.observeExhausted((e) => void events.push(e.deliveries));
    await start(defineComponent({ name: "poison", retry: { baseDelayMs: 10, maxDelayMs: 50 }, handle: () => { throw new Error("always"); } }), { bus });
    await bus.publishJob(makeJob("poison"));
    await waitFor("the exhaustion", () => events.length === 1, 10_000);
    expect(events).toEqual([3]);
  });

  it("fails with reason timeout at the wall clock, even when the handler ignores the signal", async () => {
    const bus = await provisioned("slow");
    const results = await new ResultCollector(bus).start();
    let aborted = false;
    await start(defineComponent({ name: "slow", handle: async (ctx) => { ctx.signal.addEventListener("abort", () => (aborted = true)); await sleep(5_000); return "late"; } }), { bus });
    const job = makeJob("slow", { limits: { max_bytes: 10, wall_clock: 200 } });
    await bus.publishJob(job);
    await waitFor("the timeout", () => results.for(job.job_id).length === 1, 3_000);
    expect(results.for(job.job_id)[0]).toMatchObject({ status: "failed", reason_code: "timeout" });
    expect(aborted).toBe(true);
  });

  it("does not run a job whose deadline has passed", async () => {
    const bus = await provisioned("late");
    const results = await new ResultCollector(bus).start();
    let runs = 0;
    await start(defineComponent({ name: "late", handle: () => void runs++ }), { bus });
    const job = makeJob("late", { deadline: new Date(Date.now() - 1_000).toISOString() });
    await bus.publishJob(job);
    await waitFor("the result", () => results.for(job.job_id).length === 1);
    expect(results.for(job.job_id)[0]).toMatchObject({ status: "failed", reason_code: "timeout" });
    expect(runs).toBe(0);
  });

  it("keeps a long job alive with working(): one delivery across many ack waits", async () => {
    const bus = await provisioned("long", { ackWaitMs: 300 });
    const results = await new ResultCollector(bus).start();
    let runs = 0;
    await start(defineComponent({ name: "long", handle: async () => { runs++; await sleep(1_500); return "done"; } }), { bus });
    const job = makeJob("long");
    await bus.publishJob(job);
    await waitFor("the result", () => results.for(job.job_id).length === 1, 5_000);
    expect(runs).toBe(1);
    expect(results.for(job.job_id)[0]?.attempt).toBe(1);
  });

  it("acks a redelivered job whose Result already exists without running it again", async () => {
    const bus = await provisioned("guard", { ackWaitMs: 5_000 });
    let runs = 0;
    const job = makeJob("guard");
    await bus.publishResult({ schema_version: 1, job_id: job.job_id, component: "guard", status: "completed", attempt: 1, finished_at: new Date().toISOString() });
    await bus.publishJob(job);
    // First delivery: naked by a consumer that "crashed" before acking.
    const sub = await bus.consumeJobs("guard", { maxInFlight: 1 }, (d) => d.nak(300));
    await sleep(50);
    await sub.stop();
    const w = await start(defineComponent({ name: "guard", handle: () => void runs++ }), { bus });
    await waitFor("an empty queue", async () => (await bus.queueDepth("guard")).total === 0);
    expect(runs).toBe(0);
    expect(await w.metrics.getSingleMetricAsString("tessera_jobs_total")).toContain(`outcome="duplicate"} 1`);
  });

  it("terms malformed envelopes with a clear reason and keeps processing", async () => {
    const bus = await provisioned("strict");
    const results = await new ResultCollector(bus).start();
    let runs = 0;
    await start(defineComponent({ name: "strict", handle: () => { runs++; return "ok"; } }), { bus });
    const enc = (v: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(v));
    const good = makeJob("strict");
    const { job_id: _drop, ...noId } = makeJob("strict");
    await bus.publishRawJob("strict", enc({ ...makeJob("strict", { job_id: "wrong-types" }), limits: { max_bytes: "big", wall_clock: 1 } }));
    await bus.publishRawJob("strict", enc(noId), { dedupKey: "missing-id" });
    await bus.publishRawJob("strict", enc({ ...makeJob("strict", { job_id: "both-inputs" }), input: { inline: 1, content_ref: { object_ref: "both-inputs/x", byte_size: 1 } } }));
    await bus.publishRawJob("strict", enc({ ...makeJob("strict", { job_id: "future" }), schema_version: 9 }));
    await bus.publishRawJob("strict", enc(makeJob("other", { job_id: "wrong-component" })));
    await bus.publishRawJob("strict", new TextEncoder().encode("{not json"));
    await bus.publishJob(good);
    await waitFor("five failed results and the good one", () => results.all.length === 6, 5_000);
    const by = (id: string) => results.for(id)[0];
    expect(by("wrong-types")).toMatchObject({ status: "failed", reason_code: "invalid_envelope" });
    expect(by("wrong-types")?.reason_detail).toContain("limits.max_bytes: expected integer");
    expect(by("missing-id")?.reason_detail).toContain("job_id: expected");
    expect(by("both-inputs")?.reason_detail).toContain("input: expected exactly one of inline, content_ref, source_locator, got inline and content_ref");
    expect(by("future")).toMatchObject({ reason_code: "unsupported_schema_version" });
    expect(by("wrong-component")?.reason_detail).toContain('component: expected "strict"');
    expect(by(good.job_id)).toMatchObject({ status: "completed" });
    const letters = await bus.listDeadLetters("strict");
    expect(letters).toHaveLength(1);
    expect(letters[0]).toMatchObject({ jobId: undefined, reasonCode: "invalid_envelope" });
    expect(letters[0]?.reasonDetail).toContain("expected a UTF-8 JSON document");
    expect(runs).toBe(1);
    await waitFor("an empty queue", async () => (await bus.queueDepth("strict")).total === 0);
  });

  it("naks instead of acking when the Result cannot be stored", async () => {
    const bus = await provisioned("nostore");
    let failures = 1;
    const original = bus.publishResult.bind(bus);
    bus.publishResult = async (r) => {
      if (failures-- > 0) throw new Error("results stream unavailable");
      return original(r);
    };
    const results = await new ResultCollector(bus).start();
    let runs = 0;
    await start(defineComponent({ name: "nostore", retry: { baseDelayMs: 10, maxDelayMs: 20 }, handle: () => ++runs }), { bus });
    const job = makeJob("nostore");
    await bus.publishJob(job);
    await waitFor("the result", () => results.for(job.job_id).length === 1, 5_000);
    expect(results.for(job.job_id)[0]).toMatchObject({ status: "completed", attempt: 2, output: { data: 2 } });
  });

  it("fails terminally on payload problems: too large, not owned, and unsupported source_locator", async () => {
    const bus = await provisioned("reader");
    const results = await new ResultCollector(bus).start();
    await start(defineComponent({ name: "reader", handle: async (ctx) => (await ctx.input.bytes()).byteLength }), { bus });
    const big = makeJob("reader", { limits: { max_bytes: 1_000, wall_clock: 5_000 } });
    big.input = { content_ref: await bus.payloads.put(big.job_id, new Uint8Array(5_000)) };
    const foreign = makeJob("reader");
    foreign.input = { content_ref: await bus.payloads.put("someone-else", new Uint8Array(5)) };
    const fetch = makeJob("reader", { input: { source_locator: { source_url: "https://example.test/doc" } } });
    for (const j of [big, foreign, fetch]) await bus.publishJob(j);
    await waitFor("three results", () => results.all.length === 3, 5_000);
    expect(results.for(big.job_id)[0]).toMatchObject({ status: "failed", reason_code: "payload_too_large" });
    expect(results.for(foreign.job_id)[0]).toMatchObject({ status: "failed", reason_code: "payload_not_owned" });
    expect(results.for(fetch.job_id)[0]).toMatchObject({ status: "failed", reason_code: "input_mode_unsupported" });
  });

  it("respects concurrency", async () => {
    const bus = await provisioned("par");
    let running = 0;
    let peak = 0;
    let done = 0;
    await start(defineComponent({ name: "par", concurrency: 3, handle: async () => { running++; peak = Math.max(peak, running); await sleep(20); running--; done++; } }), { bus });
    for (let i = 0; i < 12; i++) await bus.publishJob(makeJob("par"));
    await waitFor("all twelve", () => done === 12, 5_000);
    expect(peak).toBe(3);
  });

  it("drains on stop(): no new jobs, running ones finish within the grace period", async () => {
    const bus = await provisioned("drain");
    const results = await new ResultCollector(bus).start();
    let begun = 0;
    const w = await start(defineComponent({ name: "drain", concurrency: 1, handle: async () => { begun++; await sleep(300); return "finished"; } }), { bus, drainGraceMs: 5_000 });
    const a = makeJob("drain");
    const b = makeJob("drain");
    await bus.publishJob(a);
    await bus.publishJob(b);
    await waitFor("the first job to start", () => begun === 1);
    await w.stop();
    expect(results.for(a.job_id)).toHaveLength(1);
    expect(begun).toBe(1);
    expect((await bus.queueDepth("drain")).pending).toBe(1);
  });

  it("aborts and naks running jobs past the grace period so they are redelivered", async () => {
    const bus = await provisioned("stuck");
    let signalled = false;
    const w = await start(defineComponent({ name: "stuck", handle: async (ctx) => { ctx.signal.addEventListener("abort", () => (signalled = true)); await sleep(10_000); } }), { bus, drainGraceMs: 200 });
    await bus.publishJob(makeJob("stuck"));
    await waitFor("the job to start", () => w.inFlight === 1);
    await w.stop();
    expect(signalled).toBe(true);
    expect(await bus.queueDepth("stuck")).toMatchObject({ pending: 1, ackPending: 0 });
  });

  it("is not ready until the consumer is bound, and serves healthz, readyz and metrics", async () => {
    const bus = createInProcessBus();
    const w = await start(defineComponent({ name: "probe", handle: () => "ok" }), { bus, http: { host: "127.0.0.1", port: 0 } });
    const base = `http://127.0.0.1:${w.httpPort}`;
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    const notReady = await fetch(`${base}/readyz`);
    expect(notReady.status).toBe(503);
    expect(((await notReady.json()) as { reason: string }).reason).toMatch(/does not exist/);
    await bus.ensureComponent({ name: "probe", ackWaitMs: 5_000, maxDeliver: 3, duplicateWindowMs: 60_000 });
    await waitFor("readiness", async () => (await fetch(`${base}/readyz`)).status === 200, 5_000);
    await bus.publishJob(makeJob("probe"));
    await waitFor("the job", async () => (await (await fetch(`${base}/metrics`)).text()).includes('tessera_jobs_total{component="probe",outcome="completed"} 1'));
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toContain("tessera_handler_duration_seconds_bucket");
    expect(metrics).toContain('tessera_jobs_in_flight{component="probe"} 0');
    expect((await fetch(`${base}/nope`)).status).toBe(404);
    await w.stop();
    await expect(fetch(`${base}/healthz`)).rejects.toThrow();
  });

  it("heartbeats with instance id, version and in-flight count", async () => {
    const bus = await provisioned("beat");
    const beats: Array<{ instance_id: string; version: string; in_flight: number }> = [];
    await bus.subscribeHeartbeats((e) => {
      if (e.kind === "heartbeat" && e.heartbeat.component === "beat") beats.push(e.heartbeat);
    });
    const w = await start(defineComponent({ name: "beat", version: "2.1.0", concurrency: 2, handle: async () => { await sleep(400); } }), { bus, heartbeatIntervalMs: 100, instanceId: "beat-1" });
    await bus.publishJob(makeJob("beat"));
    await waitFor("a beat with a job in flight", () => beats.some((b) => b.in_flight === 1), 3_000);
    expect(beats[0]).toMatchObject({ instance_id: "beat-1", version: "2.1.0" });
    expect(w.instanceId).toBe("beat-1");
  });
});
