import { randomUUID } from "node:crypto";
import type { Job, Result } from "@tessera/contract";
import { describe, expect, it } from "vitest";
import { chainIdempotencyKey } from "../../src/chain-key.js";
import { MemoryJobStore } from "../../src/store/memory-job-store.js";

/**
 * The memory store's bound on decided jobs (memory-store only: the SQL stores keep what retention leaves,
 * on disk). Retention by time alone would let a busy embedded process hold an hour of jobs in memory.
 */

function envelope(component = "echo"): Job {
  return {
    schema_version: 1,
    job_id: randomUUID(),
    component,
    content_type: "application/json",
    limits: { max_bytes: 1_024, wall_clock: 1_000 },
    input: { inline: 1 },
  } as Job;
}

function result(jobId: string, overrides: Partial<Result> = {}): Result {
  return {
    schema_version: 1,
    job_id: jobId,
    component: "echo",
    status: "completed",
    attempt: 1,
    finished_at: new Date().toISOString(),
    ...overrides,
  } as Result;
}

let streamSeq = 0;

/** The end of a turn of the event loop, where the store evicts what the turn's decisions put past the bound. */
const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** A job submitted, published and given its Result (or left queued): what the coordinator does per job. */
async function run(
  store: MemoryJobStore,
  opts: { idempotencyKey?: string; decide?: "completed" | "dead_lettered" | "open" } = {},
): Promise<string> {
  const env = envelope();
  const inserted = await store.insertJob({
    envelope: env,
    limitKey: null,
    idempotencyKey: opts.idempotencyKey ?? null,
  });
  const seq = ++streamSeq;
  await store.markDispatched([{ outboxId: inserted.outboxId as number, jobId: env.job_id, streamSeq: seq }]);
  if (opts.decide === "dead_lettered")
    await store.recordDeadLetter({
      jobId: env.job_id,
      component: "echo",
      streamSeq: seq,
      deliveries: 3,
      reasonCode: "dead_lettered",
      reasonDetail: "x",
    });
  else if (opts.decide !== "open") await store.applyResult(result(env.job_id));
  await turn();
  return env.job_id;
}

const decided = async (store: MemoryJobStore): Promise<number> => {
  const c = (await store.countsByComponent()).get("echo");
  return c === undefined ? 0 : c.completed + c.failed + c.cancelled;
};

describe("the memory store's bound on decided jobs", () => {
  it("holds at most maxDecidedJobs decided jobs, the newest, through 50,000 jobs", async () => {
    const store = new MemoryJobStore({ maxDecidedJobs: 1_000 });
    const open: string[] = [];
    const all: string[] = [];
    for (let i = 0; i < 50_000; i++) {
      if (i % 5_000 === 0) open.push(await run(store, { decide: "open" }));
      all.push(await run(store, { idempotencyKey: `k${i}` }));
      if (i % 997 === 0) expect(await decided(store)).toBeLessThanOrEqual(1_000);
    }
    expect(await decided(store)).toBe(1_000);
    expect(store.evictedJobs()).toBe(49_000);
    expect((await store.countsByComponent()).get("echo")).toMatchObject({ queued: open.length, completed: 1_000 });
    // Open jobs are never evicted, whatever their age.
    for (const jobId of open) expect(await store.getJob(jobId)).toMatchObject({ state: "queued" });
    expect(await store.getJob(all[0] as string)).toBeUndefined();
    expect(await store.getJob(all.at(-1) as string)).toMatchObject({ state: "completed" });
    expect(await store.findByIdempotencyKey("echo", "k0")).toBeUndefined();
    expect((await store.findByIdempotencyKey("echo", "k49999"))?.state).toBe("completed");
    // Listings see the survivors only, newest first, across pages.
    const seen: string[] = [];
    for (let cursor: string | null | undefined; cursor !== null;) {
      const page = await store.listJobs({
        state: "completed",
        limit: 500,
        ...(cursor !== undefined ? { cursor } : {}),
      });
      seen.push(...page.items.map((j) => j.jobId));
      cursor = page.nextCursor;
    }
    expect(seen).toEqual(all.slice(-1_000).reverse());
  });

  it("evicts jobs in the DLQ last, and never the job just decided", async () => {
    const store = new MemoryJobStore({ maxDecidedJobs: 3 });
    const dlq = [await run(store, { decide: "dead_lettered" }), await run(store, { decide: "dead_lettered" })];
    const done = await run(store);
    const next = await run(store);
    // The completed job went, not an older dead-lettered one.
    expect(await store.getJob(done)).toBeUndefined();
    expect(await store.deadLetteredJobIds("echo")).toEqual(dlq);
    // Filled with the DLQ, the bound takes its oldest rather than the decision being recorded.
    const third = await run(store, { decide: "dead_lettered" });
    expect(await store.getJob(next)).toBeUndefined();
    const last = await run(store);
    expect(await store.getJob(last)).toMatchObject({ state: "completed" });
    expect(await store.getJob(dlq[0] as string)).toBeUndefined();
    expect(await store.deadLetteredJobIds("echo")).toEqual([dlq[1], third]);
    expect((await store.listDeadLetters()).items.map((d) => d.jobId)).toEqual([third, dlq[1]]);
    expect(store.evictedJobs()).toBe(3);
  });

  it("lets a redriven job leave the DLQ's order and age as a decided job again", async () => {
    const store = new MemoryJobStore({ maxDecidedJobs: 2 });
    const jobId = await run(store, { decide: "dead_lettered" });
    await store.redrive(jobId);
    const [entry] = await store.nextOutboxBatch(1, [], false, ["echo"]);
    await store.markDispatched([{ outboxId: entry?.id as number, jobId, streamSeq: ++streamSeq }]);
    await store.applyResult(result(jobId));
    await run(store);
    await run(store);
    expect(await store.getJob(jobId)).toBeUndefined();
    expect(await decided(store)).toBe(2);
  });

  it("evicts at the end of the turn, so a job decided in it can still be read, and at once past a slack of 1,024", async () => {
    const store = new MemoryJobStore({ maxDecidedJobs: 10 });
    const ids: string[] = [];
    for (let i = 0; i < 3_000; i++) {
      const env = envelope();
      const inserted = await store.insertJob({ envelope: env, limitKey: null, idempotencyKey: null });
      await store.markDispatched([
        { outboxId: inserted.outboxId as number, jobId: env.job_id, streamSeq: ++streamSeq },
      ]);
      await store.applyResult(result(env.job_id));
      ids.push(env.job_id);
      expect(await decided(store)).toBeLessThanOrEqual(10 + 1_024);
    }
    // The last decisions of the turn are all still there for their waiters to read.
    for (const jobId of ids.slice(-1_000)) expect(await store.getJob(jobId)).toMatchObject({ state: "completed" });
    await turn();
    expect(await decided(store)).toBe(10);
    expect(await store.getJob(ids.at(-1) as string)).toMatchObject({ state: "completed" });
    expect(await store.getJob(ids.at(-11) as string)).toBeUndefined();
  });

  it("keeps a job a completion hook submitted while its parent is open: a replayed hook must find it by its key", async () => {
    const store = new MemoryJobStore({ maxDecidedJobs: 2 });
    const parent = await run(store, { decide: "open" });
    // Its parent id holds ':', as job ids may.
    const parentWithColon = await (async () => {
      const env = { ...envelope(), job_id: `tenant:a:${randomUUID()}` };
      await store.insertJob({ envelope: env, limitKey: null, idempotencyKey: null });
      return env.job_id;
    })();
    const child = await run(store, { idempotencyKey: chainIdempotencyKey(parent, "echo", 1) });
    const otherChild = await run(store, { idempotencyKey: chainIdempotencyKey(parentWithColon, "echo", 1) });
    for (let i = 0; i < 20; i++) await run(store);
    expect(await store.getJob(child)).toMatchObject({ state: "completed" });
    expect(await store.getJob(otherChild)).toMatchObject({ state: "completed" });
    expect((await store.findByIdempotencyKey("echo", chainIdempotencyKey(parent, "echo", 1)))?.jobId).toBe(child);
    // Once the parent is decided, its children age out like any job.
    await store.applyResult(result(parent));
    await store.cancel(parentWithColon);
    for (let i = 0; i < 4; i++) await run(store);
    expect(await store.getJob(child)).toBeUndefined();
    expect(await store.getJob(otherChild)).toBeUndefined();
    expect(await decided(store)).toBe(2);
  });

  it("refuses a bound that is not a positive integer, naming the option", () => {
    expect(() => new MemoryJobStore({ maxDecidedJobs: 0 })).toThrow(
      /maxDecidedJobs: expected an integer of at least 1, or Infinity for no bound, got 0/,
    );
    expect(() => new MemoryJobStore({ maxDecidedJobs: 2.5 })).toThrow(/maxDecidedJobs/);
    expect(() => new MemoryJobStore({ maxDecidedJobs: Infinity })).not.toThrow();
  });
});
