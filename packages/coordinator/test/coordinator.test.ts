import { createInProcessBus } from "@tessera/bus";
import type { Result } from "@tessera/contract";
import { spyingBus, waitFor } from "@tessera/testkit";
import { TerminalError } from "@tessera/worker";
import { afterEach, describe, expect, it } from "vitest";
import { CoordinatorError } from "../src/errors.js";
import type { ComponentRegistration } from "../src/types.js";
import { embedded, spec, type Embedded } from "./harness.js";
import { storeBackends } from "./store-backends.js";

const backends = storeBackends();

describe.each(backends)("coordinator on $name", (backend) => {
  let env: Embedded | undefined;
  afterEach(async () => {
    await env?.close();
    env = undefined;
  });

  async function start(
    components: ComponentRegistration[] = [{ name: "echo", spec: spec() }],
    extra: Parameters<typeof embedded>[2] = {},
  ): Promise<Embedded> {
    env = await embedded((await backend.open()).database, components, extra);
    return env;
  }

  it("takes a job from submit to a completed Result", async () => {
    const { coordinator, run } = await start();
    await run({
      name: "echo",
      async handle(ctx) {
        return { echoed: await ctx.input.json() };
      },
    });
    const { jobId, created, state } = await coordinator.submit(
      "echo",
      { json: { n: 1 } },
      { metadata: { tenant: "acme" } },
    );
    expect(created).toBe(true);
    expect(state).toBe("pending");
    await coordinator.waitForJob(jobId, { timeoutMs: 5_000 });
    // The Result can be recorded before the relay records its publish; both land.
    const job = await waitFor(
      "the dispatch to be recorded",
      async () => {
        const j = await coordinator.getJob(jobId);
        return j?.dispatches === 1 && coordinator.counters().published === 1 ? j : undefined;
      },
      5_000,
    );
    expect(job).toMatchObject({
      state: "completed",
      attempts: 1,
      dispatches: 1,
      reasonCode: null,
      output: { data: { echoed: { n: 1 } } },
    });
    expect(job.envelope.metadata).toEqual({ tenant: "acme" });
    expect(job.finishedAt).not.toBeNull();
    expect(coordinator.counters()).toMatchObject({ submitted: 1, published: 1, resultsApplied: 1 });
  });

  it("records a terminal failure with its reason code", async () => {
    const { coordinator, run } = await start();
    await run({
      name: "echo",
      handle() {
        throw new TerminalError("bad_document", "cannot parse");
      },
    });
    const { jobId } = await coordinator.submit("echo", { text: "x" });
    expect(await coordinator.waitForJob(jobId, { timeoutMs: 5_000 })).toMatchObject({
      state: "failed",
      reasonCode: "bad_document",
      reasonDetail: "cannot parse",
    });
  });

  it("returns the same job for the same idempotency key and creates nothing new", async () => {
    const { coordinator } = await start();
    const first = await coordinator.submit("echo", { json: 1 }, { idempotencyKey: "order-7" });
    const second = await coordinator.submit("echo", { json: 2 }, { idempotencyKey: "order-7" });
    expect(second).toEqual({ jobId: first.jobId, created: false, state: expect.any(String) });
    expect((await coordinator.listJobs({ component: "echo" })).items).toHaveLength(1);
    expect(coordinator.counters().submitted).toBe(1);
  });

  it("uploads a large input to the payload store and sends a content_ref", async () => {
    const { coordinator, run } = await start();
    await run({
      name: "echo",
      async handle(ctx) {
        return { length: (await ctx.input.bytes()).byteLength };
      },
    });
    const big = new Uint8Array(300_000).fill(7);
    const { jobId } = await coordinator.submit("echo", { bytes: big });
    const job = await coordinator.waitForJob(jobId, { timeoutMs: 5_000 });
    expect(job.envelope.input.content_ref?.byte_size).toBe(300_000);
    expect(job.envelope.input.inline).toBeUndefined();
    expect(job.output?.data).toEqual({ length: 300_000 });
  });

  it("refuses bad submits with the field named", async () => {
    const { coordinator } = await start();
    await expect(coordinator.submit("nope", { json: 1 })).rejects.toMatchObject({
      code: "not_found",
      message: expect.stringContaining('unknown component "nope"'),
    });
    await expect(coordinator.submit("echo", { json: 1 }, { deadline: "tomorrow" })).rejects.toMatchObject({
      code: "invalid_request",
      issues: [{ path: "deadline" }],
    });
    await expect(coordinator.submit("echo", { json: 1, text: "a" } as never)).rejects.toMatchObject({
      issues: [{ path: "input" }],
    });
    const badMeta = coordinator.submit("echo", { json: 1 }, { metadata: { tenant: 5 } as never });
    await expect(badMeta).rejects.toBeInstanceOf(CoordinatorError);
    await expect(badMeta).rejects.toMatchObject({ issues: [expect.objectContaining({ path: "metadata.tenant" })] });
    await expect(
      coordinator.submit("echo", { bytes: new Uint8Array(20) }, { limits: { maxBytes: 10 } }),
    ).rejects.toMatchObject({ issues: [{ path: "input", received: "20 bytes" }] });
    expect((await coordinator.listJobs()).items).toHaveLength(0);
  });

  it("applies a Result once: duplicates and late Results change nothing and are counted", async () => {
    const { coordinator, bus, run } = await start();
    await run({ name: "echo", handle: () => ({ ok: true }) });
    const { jobId } = await coordinator.submit("echo", { json: 1 });
    const done = await coordinator.waitForJob(jobId, { timeoutMs: 5_000 });
    const late: Result = {
      schema_version: 1,
      job_id: jobId,
      component: "echo",
      status: "failed",
      reason_code: "handler_error",
      attempt: 2,
      instance_id: "ghost",
      finished_at: new Date().toISOString(),
      duration_ms: 1,
    };
    await bus.publishResult(late);
    await bus.publishResult({
      ...late,
      status: "completed",
      reason_code: undefined,
      finished_at: new Date(Date.now() + 5).toISOString(),
    } as Result);
    await waitFor(
      "coordinator.counters().duplicateResults === 2",
      () => coordinator.counters().duplicateResults === 2,
      5_000,
    );
    const after = await coordinator.getJob(jobId);
    expect(after).toMatchObject({
      state: "completed",
      attempts: done.attempts,
      instanceId: done.instanceId,
      duplicateResults: 2,
    });
  });

  it("runs a job redelivered after a lost ack once and records one completed state", async () => {
    const inner = createInProcessBus();
    // The first ack never reaches the bus, as if the worker died right after publishing its Result.
    const { bus, settles } = spyingBus(inner, { dropAcks: 1 });
    const { coordinator, run } = await start([{ name: "echo", spec: spec({ timeouts: { ackWait: "1s" } }) }], { bus });
    let runs = 0;
    // Two slots: the in-process bus keeps a slot taken until its delivery settles, and this one never does.
    await run({ name: "echo", concurrency: 2, handle: () => ({ run: ++runs }) });
    const { jobId } = await coordinator.submit("echo", { json: 1 });
    await coordinator.waitForJob(jobId, { timeoutMs: 5_000 });
    await waitFor(
      `the redelivery to be acked (settles ${JSON.stringify(settles)})`,
      async () => settles.length === 2 && (await inner.queueDepth("echo")).total === 0,
      5_000,
    );
    expect(settles.map((e) => [e.action, e.deliveryCount])).toEqual([
      ["ack", 1],
      ["ack", 2],
    ]);
    expect(runs).toBe(1);
    expect(await coordinator.getJob(jobId)).toMatchObject({
      state: "completed",
      output: { data: { run: 1 } },
      duplicateResults: 0,
    });
    await inner.close();
  });

  it("dead-letters a poison job and redrives it, with the same job id, once the handler is fixed", async () => {
    const { coordinator, run } = await start([{ name: "echo", spec: spec({ maxDeliver: 2 }) }]);
    let fixed = false;
    await run({
      name: "echo",
      retry: { baseDelayMs: 10, maxDelayMs: 20 },
      handle() {
        if (!fixed) throw new Error("boom");
        return { fixed };
      },
    });
    const { jobId } = await coordinator.submit("echo", { json: 1 });
    const failed = await coordinator.waitForJob(jobId, { timeoutMs: 5_000 });
    expect(failed).toMatchObject({ state: "failed", reasonCode: "dead_lettered", attempts: 2 });
    const letters = await coordinator.listDeadLetters({ component: "echo" });
    expect(letters.items).toMatchObject([{ jobId, deliveries: 2, reasonCode: "dead_lettered", redrivenAt: null }]);

    fixed = true;
    expect(await coordinator.redriveAll("echo")).toEqual([jobId]);
    await coordinator.waitForJob(jobId, { timeoutMs: 5_000 });
    const done = await waitFor(
      "the redrive's dispatch to be recorded",
      async () => {
        const j = await coordinator.getJob(jobId);
        return j?.dispatches === 2 ? j : undefined;
      },
      5_000,
    );
    expect(done).toMatchObject({
      jobId,
      state: "completed",
      redrives: 1,
      dispatches: 2,
      output: { data: { fixed: true } },
    });
    expect((await coordinator.listDeadLetters()).items[0]?.redrivenAt).not.toBeNull();
    expect(await coordinator.redrive(jobId)).toMatchObject({ redriven: false, reason: "not_failed" });
    expect(await coordinator.redrive("no-such-job")).toEqual({ redriven: false, reason: "not_found" });
  });

  it("cancels a pending job so it never runs, and refuses to cancel a finished one", async () => {
    const { coordinator, run } = await start([
      { name: "echo", spec: spec(), limits: { key: "tenant", concurrency: 1 } },
    ]);
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const ran: string[] = [];
    await run({
      name: "echo",
      concurrency: 4,
      async handle(ctx) {
        ran.push(ctx.jobId);
        await gate;
        return {};
      },
    });
    const first = await coordinator.submit("echo", { json: 1 }, { metadata: { tenant: "a" } });
    const second = await coordinator.submit("echo", { json: 2 }, { metadata: { tenant: "a" } });
    await waitFor("ran.length === 1", () => ran.length === 1, 5_000);
    expect(await coordinator.cancel(second.jobId)).toMatchObject({ cancelled: true, job: { state: "cancelled" } });
    release();
    await coordinator.waitForJob(first.jobId, { timeoutMs: 5_000 });
    expect(ran).toEqual([first.jobId]);
    expect(await coordinator.cancel(first.jobId)).toMatchObject({ cancelled: false, reason: "already_finished" });
    expect(await coordinator.cancel("missing")).toEqual({ cancelled: false, reason: "not_found" });
  });

  it("runs each key serially under per-key concurrency 1 while both keys progress", async () => {
    const { coordinator, run } = await start([
      { name: "echo", spec: spec(), limits: { key: "tenant", concurrency: 1 } },
    ]);
    const log: { tenant: string; event: "start" | "end"; at: number }[] = [];
    let running = 0;
    let maxRunning = 0;
    // The first jobs wait (up to 5 s) for the other key's first job: side by side even when dispatch is slower
    // than a job (a loaded machine), and 5 s apart when one key held the other back.
    const started = new Set<string>();
    let bothStarted!: () => void;
    const both = new Promise<void>((resolve) => (bothStarted = resolve));
    await run({
      name: "echo",
      concurrency: 8,
      async handle(ctx) {
        const tenant = ctx.metadata.tenant as string;
        running += 1;
        maxRunning = Math.max(maxRunning, running);
        log.push({ tenant, event: "start", at: performance.now() });
        started.add(tenant);
        if (started.size === 2) bothStarted();
        await Promise.race([both, new Promise((r) => setTimeout(r, 5_000))]);
        await new Promise((r) => setTimeout(r, 15));
        log.push({ tenant, event: "end", at: performance.now() });
        running -= 1;
        return {};
      },
    });
    const ids: string[] = [];
    for (let i = 0; i < 6; i++)
      for (const tenant of ["a", "b"])
        ids.push((await coordinator.submit("echo", { json: i }, { metadata: { tenant } })).jobId);
    for (const id of ids) await coordinator.waitForJob(id, { timeoutMs: 20_000 });
    for (const tenant of ["a", "b"]) {
      const events = log.filter((e) => e.tenant === tenant).map((e) => e.event);
      expect(events).toEqual(Array.from({ length: 6 }, () => ["start", "end"]).flat());
    }
    // Both keys ran side by side: two jobs at once, one per key; neither waited for the other's backlog.
    expect(maxRunning).toBe(2);
    const firstEndB = log.findIndex((e) => e.tenant === "b" && e.event === "end");
    const lastStartA = log.map((e) => e.tenant === "a" && e.event === "start").lastIndexOf(true);
    expect(firstEndB).toBeLessThan(lastStartA);
    expect((await coordinator.listJobs({ key: "a" })).items).toHaveLength(6);
  });

  it("holds a key to its rate and lets other keys through", async () => {
    const { coordinator, run } = await start([
      { name: "echo", spec: spec(), limits: { key: "tenant", rate: { limit: 2, intervalMs: 400 } } },
    ]);
    const starts: { tenant: string; at: number }[] = [];
    await run({
      name: "echo",
      concurrency: 8,
      handle(ctx) {
        starts.push({ tenant: ctx.metadata.tenant as string, at: Date.now() });
        return {};
      },
    });
    const t0 = Date.now();
    const ids: string[] = [];
    for (let i = 0; i < 4; i++)
      ids.push((await coordinator.submit("echo", { json: i }, { metadata: { tenant: "slow" } })).jobId);
    const other = await coordinator.submit("echo", { json: 0 }, { metadata: { tenant: "other" } });
    await coordinator.waitForJob(other.jobId, { timeoutMs: 5_000 });
    for (const id of ids) await coordinator.waitForJob(id, { timeoutMs: 5_000 });
    const slow = starts.filter((s) => s.tenant === "slow").map((s) => s.at - t0);
    // Burst of 2, then one token every 200 ms: the 4th cannot start before ~400 ms.
    expect(slow[3]).toBeGreaterThanOrEqual(350);
    // The other key was not queued behind the slow key's tokens.
    expect((starts.find((s) => s.tenant === "other")?.at ?? Infinity) - t0).toBeLessThan(slow[3] as number);
  });

  it("pages through jobs newest first with filters", async () => {
    const { coordinator } = await start();
    for (let i = 0; i < 5; i++) await coordinator.submit("echo", { json: i });
    const page1 = await coordinator.listJobs({ limit: 2 });
    const page2 = await coordinator.listJobs({ limit: 2, cursor: page1.nextCursor as string });
    const page3 = await coordinator.listJobs({ limit: 2, cursor: page2.nextCursor as string });
    expect([page1.items.length, page2.items.length, page3.items.length]).toEqual([2, 2, 1]);
    expect(page3.nextCursor).toBeNull();
    const all = [...page1.items, ...page2.items, ...page3.items].map((j) => j.envelope.input.inline as number);
    expect(all).toEqual([4, 3, 2, 1, 0]);
    await expect(coordinator.listJobs({ state: "done" as never })).rejects.toMatchObject({
      issues: [{ path: "state" }],
    });
    await expect(coordinator.listJobs({ limit: 0 })).rejects.toMatchObject({ issues: [{ path: "limit" }] });
    await expect(coordinator.listJobs({ cursor: "garbage" })).rejects.toMatchObject({ issues: [{ path: "cursor" }] });
  });

  it("tells a declared component from one with healthy instances, with queue depth", async () => {
    const { coordinator, run } = await start([
      { name: "echo", spec: spec() },
      { name: "idle", spec: spec() },
    ]);
    await run({ name: "echo", handle: () => ({}) });
    await waitFor(
      "(await coordinator.component('echo'))?.healthyInstances === ",
      async () => (await coordinator.component("echo"))?.healthyInstances === 1,
      5_000,
    );
    const [echo, idle] = await coordinator.components();
    expect(echo).toMatchObject({
      name: "echo",
      state: "running",
      summary: "1 healthy instance",
      queueDepth: { total: 0 },
    });
    expect(echo?.instances[0]).toMatchObject({ version: expect.any(String), inFlight: 0, stale: false });
    expect(idle).toMatchObject({
      name: "idle",
      state: "declared",
      summary: "declared, no healthy instance",
      instances: [],
    });
  });

  it("stamps shared config into every job, with env > file > db precedence", async () => {
    const { coordinator, run } = await start([{ name: "echo", spec: spec() }], {
      sharedConfig: { "embedding.model": "m-default", "embedding.dimension": 64 },
      settingsFile: { "embedding.dimension": 128 },
      env: { TESSERA_SHARED_EMBEDDING_MODEL: "m-env" },
    });
    await run({ name: "echo", handle: (ctx) => ({ config: ctx.config }) });
    const job = await coordinator.waitForJob((await coordinator.submit("echo", { json: 1 })).jobId, {
      timeoutMs: 5_000,
    });
    expect(job.output?.data).toEqual({ config: { "embedding.model": "m-env", "embedding.dimension": 128 } });
    expect(coordinator.settings.get("embedding.model")).toMatchObject({
      source: "env",
      value: "m-env",
      category: "shared",
    });
    await coordinator.settings.set("embedding.model", "m-db");
    expect(coordinator.settings.get("embedding.model")).toMatchObject({ source: "env", value: "m-env" });
    await coordinator.settings.set("relay.batchSize", 10);
    expect(coordinator.settings.get("relay.batchSize")).toMatchObject({ source: "db", value: 10 });
    await expect(coordinator.settings.set("database.url", "postgres://x")).rejects.toMatchObject({
      code: "invalid_request",
      message: expect.stringContaining("bootstrap"),
    });
    await expect(coordinator.settings.set("relay.batchSize", -1)).rejects.toMatchObject({
      issues: [{ path: "value" }],
    });
  });

  it("fails the parent with chain_failed once its completion hook has failed every try, and retries a passing fault", async () => {
    let calls = 0;
    let flakyCalls = 0;
    const { coordinator, run } = await start(
      [
        { name: "first", spec: spec() },
        { name: "flaky", spec: spec() },
        { name: "second", spec: spec() },
      ],
      {
        onCompleted: {
          first: () => {
            calls += 1;
            throw new Error("the next job's input is too large");
          },
          flaky: async (ctx) => {
            flakyCalls += 1;
            if (flakyCalls < 3) throw new Error("a passing fault");
            await ctx.submit("second", { json: 1 });
          },
        },
      },
    );
    await run({ name: "first", handle: () => "x" });
    await run({ name: "flaky", handle: () => "y" });
    await run({ name: "second", handle: () => "z" });
    const { jobId } = await coordinator.submit("first", { json: 1 });
    const failed = await coordinator.waitForJob(jobId, { timeoutMs: 10_000 });
    expect(failed).toMatchObject({ state: "failed", reasonCode: "chain_failed" });
    expect(failed.reasonDetail).toBe("the onCompleted hook of first failed 4 times: the next job's input is too large");
    expect(calls).toBe(4);
    const flaky = await coordinator.submit("flaky", { json: 1 });
    expect(await coordinator.waitForJob(flaky.jobId, { timeoutMs: 10_000 })).toMatchObject({ state: "completed" });
    expect(flakyCalls).toBe(3);
    expect((await coordinator.listJobs({ component: "second" })).items).toHaveLength(1);
  });

  it("chains: a completed job's hook submits the next job once, even when the Result is applied twice", async () => {
    const { coordinator, run } = await start(
      [
        { name: "first", spec: spec() },
        { name: "second", spec: spec() },
      ],
      {
        onCompleted: {
          first: async (ctx) => {
            const text = new TextDecoder().decode(await ctx.outputBytes());
            await ctx.submit("second", { json: { from: ctx.job.jobId, text } });
          },
        },
      },
    );
    await run({ name: "first", handle: () => "hello" });
    await run({ name: "second", handle: async (ctx) => ({ got: await ctx.input.json() }) });
    const { jobId } = await coordinator.submit("first", { json: 1 });
    await coordinator.waitForJob(jobId, { timeoutMs: 5_000 });
    await waitFor(
      "(await coordinator.listJobs({ component: 'second', state: 'c",
      async () => (await coordinator.listJobs({ component: "second", state: "completed" })).items.length === 1,
      5_000,
    );
    const [second] = (await coordinator.listJobs({ component: "second" })).items;
    expect(second?.output?.data).toEqual({ got: { from: jobId, text: "hello" } });
    expect(second?.idempotencyKey).toBe(`chain:${jobId}:second:1`);
  });
});
