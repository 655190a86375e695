import { createInProcessBus } from "@tessera/bus";
import { waitFor } from "@tessera/testkit";
import { pino } from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { createCoordinator } from "../src/create-coordinator.js";
import { buildAdminApp } from "../src/http/admin-server.js";
import { createMemoryDatabase } from "../src/store/memory-database.js";
import type { Coordinator } from "../src/types.js";
import { embedded, silent, spec, type Embedded } from "./harness.js";
import { storeBackends } from "./store-backends.js";

/** One sample of the coordinator's metrics, from its /metrics text. */
async function sample(coordinator: Coordinator, series: string): Promise<number | undefined> {
  const text = await coordinator.metrics.metrics();
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

const PRUNED = (reason: string): string => `tessera_coordinator_jobs_pruned_total{reason="${reason}"}`;

describe.each(storeBackends())("retention on $name", (backend) => {
  let env: Embedded | undefined;
  afterEach(async () => {
    await env?.close();
    env = undefined;
  });

  it("deletes a decided job once jobs.retention has passed, keeps open ones, and counts it in /metrics", async () => {
    env = await embedded(
      (await backend.open()).database,
      [
        { name: "echo", spec: spec() },
        { name: "idle", spec: spec() },
      ],
      { env: { TESSERA_JOBS_RETENTION: "1s" } },
    );
    const { coordinator, run } = env;
    await run({ name: "echo", handle: () => ({ ok: true }) });
    const done = await coordinator.submit("echo", { json: 1 }, { idempotencyKey: "order-7" });
    const waiting = await coordinator.submit("idle", { json: 2 });
    expect(await coordinator.waitForJob(done.jobId, { timeoutMs: 5_000 })).toMatchObject({ state: "completed" });
    await waitFor(
      "the decided job to be deleted",
      async () => (await coordinator.getJob(done.jobId)) === undefined,
      10_000,
    );
    expect(await coordinator.getJob(waiting.jobId)).toMatchObject({ state: expect.stringMatching(/pending|queued/) });
    expect(await sample(coordinator, PRUNED("retention"))).toBe(1);
    expect(
      await sample(coordinator, `tessera_coordinator_retention_passes_total{outcome="ok"}`),
    ).toBeGreaterThanOrEqual(1);
    expect((await coordinator.component("echo"))?.jobs).toEqual({
      pending: 0,
      queued: 0,
      completed: 0,
      failed: 0,
      cancelled: 0,
    });
    // Its idempotency key went with it: the same key makes a new job, as after BullMQ's removeOnComplete.
    const again = await coordinator.submit("echo", { json: 1 }, { idempotencyKey: "order-7" });
    expect(again).toMatchObject({ created: true });
    expect(again.jobId).not.toBe(done.jobId);
    // The admin API serves the same registry to a scraper.
    const app = await buildAdminApp(coordinator, {
      logger: false,
      policy: { host: "127.0.0.1", token: undefined },
      dashboard: undefined,
    });
    const res = await app.inject({ method: "GET", url: "/metrics" });
    expect(res.statusCode).toBe(200);
    expect(res.headers["content-type"]).toContain("text/plain");
    expect(res.body).toContain(`${PRUNED("retention")} 1`);
    await app.close();
  });

  it(`defaults to ${backend.name === "memory" ? '"1h"' : '"forever"'} and refuses a value that is no positive duration, saying what it expects`, async () => {
    env = await embedded((await backend.open()).database, [{ name: "echo", spec: spec() }]);
    expect(env.coordinator.settings.get("jobs.retention")).toMatchObject({
      value: backend.name === "memory" ? "1h" : "forever",
      source: "default",
      category: "operational",
      env: "TESSERA_JOBS_RETENTION",
    });
    const expected =
      /expected "forever" or a duration greater than zero and at most 87600h, written like "30m", "1h" or "168h" \(units ms, s, m, h\), got "0s"/;
    await expect(env.coordinator.settings.set("jobs.retention", "0s")).rejects.toMatchObject({
      code: "invalid_request",
      message: expect.stringMatching(expected),
    });
    await expect(env.coordinator.settings.set("jobs.retention", 3_600)).rejects.toMatchObject({
      issues: [{ path: "value", received: "3600" }],
    });
    expect(await env.coordinator.settings.set("jobs.retention", "168h")).toMatchObject({ value: "168h", source: "db" });
    await expect(
      embedded((await backend.open()).database, [{ name: "echo", spec: spec() }], {
        env: { TESSERA_JOBS_RETENTION: "7d" },
      }),
    ).rejects.toMatchObject({
      message: expect.stringMatching(
        /^setting jobs.retention from environment variable TESSERA_JOBS_RETENTION: expected "forever" or a duration .* got "7d"$/,
      ),
    });
  });
});

describe("retention on the memory store", () => {
  const stops: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const stop of stops.splice(0)) await stop();
  });

  it("counts the jobs its bound deleted as pruned for the bound", async () => {
    const db = createMemoryDatabase({ maxDecidedJobs: 5 });
    const env = await embedded({ memory: db }, [{ name: "echo", spec: spec() }]);
    stops.push(() => env.close());
    await env.run({ name: "echo", handle: () => null });
    for (let i = 0; i < 20; i++)
      await env.coordinator.waitForJob((await env.coordinator.submit("echo", { json: i })).jobId, { timeoutMs: 5_000 });
    // The in-process path can run for a while on microtasks alone; the bound applies at the end of the turn.
    await new Promise((resolve) => setImmediate(resolve));
    expect((await env.coordinator.component("echo"))?.jobs.completed).toBe(5);
    expect(await sample(env.coordinator, PRUNED("bound"))).toBe(15);
    expect(await sample(env.coordinator, PRUNED("retention"))).toBe(0);
  });

  it("lets every waiter read its job when one delivery decides far more jobs than the bound holds", async () => {
    const env = await embedded({ memory: createMemoryDatabase({ maxDecidedJobs: 10 }) }, [
      { name: "echo", spec: spec() },
    ]);
    stops.push(() => env.close());
    const ids: string[] = [];
    for (let i = 0; i < 200; i++) ids.push((await env.coordinator.submit("echo", { json: i })).jobId);
    const outcomes = ids.map((id) =>
      env.coordinator.waitForJob(id, { timeoutMs: 10_000 }).then(
        (job) => job.state,
        (err: { code?: string }) => err.code,
      ),
    );
    // The worker holds every job until all 200 run, so their Results arrive together.
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let started = 0;
    await env.run({
      name: "echo",
      concurrency: 200,
      handle: async () => {
        if (++started === 200) release();
        await gate;
        return null;
      },
    });
    expect(new Set(await Promise.all(outcomes))).toEqual(new Set(["completed"]));
    await waitFor(
      "the bound to apply",
      async () => (await env.coordinator.component("echo"))?.jobs.completed === 10,
      5_000,
    );
  });

  it("does not let the bound delete a hook's child while the parent's Result may come back: the replayed hook finds it", async () => {
    let hookRuns = 0;
    const env = await embedded(
      { memory: createMemoryDatabase({ maxDecidedJobs: 5 }) },
      [
        { name: "parent", spec: spec() },
        { name: "child", spec: spec() },
        { name: "filler", spec: spec() },
      ],
      {
        onCompleted: {
          parent: async (ctx) => {
            hookRuns += 1;
            await ctx.submit("child", { json: "c1" });
            // A transient failure after the first submit: the Result comes back and the hook runs again.
            if (hookRuns === 1) {
              await new Promise((resolve) => setTimeout(resolve, 50));
              throw new Error("transient");
            }
          },
        },
      },
    );
    stops.push(() => env.close());
    let childRuns = 0;
    await env.run({ name: "parent", handle: () => null });
    await env.run({ name: "child", handle: () => void (childRuns += 1) });
    await env.run({ name: "filler", concurrency: 50, handle: () => null });
    const parent = await env.coordinator.submit("parent", { json: 1 });
    await waitFor("the hook's first run", () => hookRuns === 1, 5_000);
    // Meanwhile other work decides many more jobs than the bound holds.
    await Promise.all(
      Array.from({ length: 20 }, async (_, i) =>
        env.coordinator.waitForJob((await env.coordinator.submit("filler", { json: i })).jobId, { timeoutMs: 5_000 }),
      ),
    );
    expect(await env.coordinator.waitForJob(parent.jobId, { timeoutMs: 5_000 })).toMatchObject({ state: "completed" });
    expect(hookRuns).toBe(2);
    await waitFor("the child to run", () => childRuns >= 1, 5_000);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(childRuns).toBe(1);
    expect(env.coordinator.counters().submitted).toBe(1 + 1 + 20);
  });

  it("logs a failed pass, counts it, and deletes at the next one", async () => {
    const db = createMemoryDatabase();
    const prune = db.jobs.pruneDecided.bind(db.jobs);
    let failures = 1;
    db.jobs.pruneDecided = (before, step) =>
      failures-- > 0 ? Promise.reject(new Error("the disk is on fire")) : prune(before, step);
    const lines: string[] = [];
    const logger = pino({ level: "debug" }, { write: (line: string) => lines.push(line) });
    const bus = createInProcessBus();
    const coordinator = await createCoordinator({
      bus,
      components: [{ name: "echo", spec: spec() }],
      database: { memory: db },
      env: { TESSERA_JOBS_RETENTION: "200ms" },
      logger,
    });
    stops.push(async () => {
      await coordinator.close();
      await bus.close();
    });
    const { jobId } = await coordinator.submit("echo", { json: 1 });
    await coordinator.cancel(jobId);
    await waitFor("the job to be deleted", async () => (await coordinator.getJob(jobId)) === undefined, 5_000);
    const logged = lines.map(
      (l) => JSON.parse(l) as { level: number; msg: string; err?: { message: string }; deleted?: number },
    );
    expect(logged.find((l) => l.msg.startsWith("a retention pass failed"))).toMatchObject({
      level: 40,
      err: { message: "the disk is on fire" },
    });
    expect(logged.some((l) => l.msg === "retention pass" && l.level === 20 && l.deleted === 1)).toBe(true);
    expect(await sample(coordinator, `tessera_coordinator_retention_passes_total{outcome="failed"}`)).toBe(1);
    expect(await sample(coordinator, PRUNED("retention"))).toBe(1);
  });

  it("runs no pass after close", async () => {
    const db = createMemoryDatabase();
    let passes = 0;
    const prune = db.jobs.pruneDecided.bind(db.jobs);
    db.jobs.pruneDecided = (before, step) => {
      passes += 1;
      return prune(before, step);
    };
    const env = await embedded({ memory: db }, [{ name: "echo", spec: spec() }], {
      env: { TESSERA_JOBS_RETENTION: "200ms" },
      logger: silent,
    });
    await waitFor("a pass", () => passes > 0, 5_000);
    await env.close();
    const after = passes;
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(passes).toBe(after);
  });
});
