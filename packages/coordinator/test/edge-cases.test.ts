import { createInProcessBus, type Bus } from "@tessera/bus";
import type { Job } from "@tessera/contract";
import { waitFor, withOverrides } from "@tessera/testkit";
import { describe, expect, it } from "vitest";
import { createCoordinator } from "../src/create-coordinator.js";
import { handleExhausted } from "../src/dead-letters/dead-letter-flow.js";
import type { QueryResult, SqlClient } from "../src/sql/sql-client.js";
import type { DispatchRecord, Dispatched } from "../src/store/job-storage.js";
import type { DatabaseOption } from "../src/store/open-storage.js";
import { embedded, silent, spec } from "./harness.js";
import { storeBackends, type OpenStore } from "./store-backends.js";

describe.each(storeBackends())("coordinator edge cases on $name", (backend) => {
  it("publishes jobs it just submitted from memory even when the outbox pass comes round every few ms and finds nothing", async () => {
    // With a 10 ms poll interval every pass is due to read the outbox, which skips the jobs held in memory:
    // the relay must still publish those in the same pass rather than wait for the next wake.
    const { database } = await backend.open();
    const env = await embedded(database, [{ name: "echo", spec: spec() }], {
      settingsFile: { "relay.pollIntervalMs": 10 },
    });
    try {
      await env.run({ name: "echo", concurrency: 32, handle: () => "ok" });
      const ids: string[] = [];
      for (let wave = 0; wave < 3; wave++) {
        const outcomes = await Promise.all(
          Array.from({ length: 100 }, (_, i) => env.coordinator.submit("echo", { json: i })),
        );
        ids.push(...outcomes.map((o) => o.jobId));
        await new Promise((r) => setTimeout(r, 30));
      }
      await Promise.all(ids.map((id) => env.coordinator.waitForJob(id, { timeoutMs: 10_000 })));
      // Each dispatch is recorded a moment after its publish, and may come after the Result (decision 0046).
      const jobs = await waitFor("the dispatches to be recorded", async () => {
        const all = await Promise.all(ids.map((id) => env.coordinator.getJob(id)));
        return all.every((j) => (j?.dispatches ?? 0) > 0) ? all : undefined;
      });
      expect(jobs.map((j) => j?.state)).toEqual(ids.map(() => "completed"));
      expect(jobs.every((j) => j?.dispatches === 1)).toBe(true);
    } finally {
      await env.close();
    }
  });

  it("keeps publishing while a dispatch record is slow, and does not publish again what it has published", async () => {
    // The outbox pass (due on every pass with a 10 ms poll interval) used to wait for the previous batch's
    // record: one slow write held every job behind it. It now skips the rows in flight instead.
    const store = await backend.open();
    let holdRecords = true;
    let heldRecord: (() => void) | undefined;
    const recordReleased = new Promise<void>((resolve) => (heldRecord = resolve));
    const env = await embedded(
      holdingDispatchRecords(store, async () => {
        if (holdRecords) await recordReleased;
      }),
      [{ name: "echo", spec: spec() }],
      { settingsFile: { "relay.pollIntervalMs": 10 } },
    );
    try {
      await env.run({ name: "echo", concurrency: 32, handle: () => "ok" });
      const first = await env.coordinator.submit("echo", { json: 0 });
      const rest = await Promise.all(
        Array.from({ length: 50 }, (_, i) => env.coordinator.submit("echo", { json: i + 1 })),
      );
      const ids = [first.jobId, ...rest.map((o) => o.jobId)];
      // Every job runs and is decided while the first record is still held.
      const jobs = await Promise.all(ids.map((id) => env.coordinator.waitForJob(id, { timeoutMs: 10_000 })));
      expect(jobs.map((j) => j.state)).toEqual(ids.map(() => "completed"));
      holdRecords = false;
      heldRecord?.();
      const dispatches = async (): Promise<number[]> =>
        Promise.all(ids.map(async (id) => (await store.jobs.getJob(id))?.dispatches ?? -1));
      await waitFor("the held records to land", async () => (await dispatches()).every((n) => n > 0), 10_000);
      // Ten more outbox passes: none publishes a job again.
      await new Promise((r) => setTimeout(r, 100));
      expect(await dispatches()).toEqual(ids.map(() => 1));
      expect(env.coordinator.counters().published).toBe(ids.length);
    } finally {
      holdRecords = false;
      heldRecord?.();
      await env.close();
    }
  });

  it("drains an outbox longer than one batch on consecutive passes, not one batch per poll interval", async () => {
    // What a restarted coordinator finds (here: left by one whose bus refused every publish) is read from
    // the outbox batch after batch; the poll interval is only the safety net for an idle relay.
    const { database } = await backend.open();
    const bus = createInProcessBus();
    const refusing = withOverrides(bus, { publishJob: () => Promise.reject(new Error("bus down")) });
    const first = await createCoordinator({
      bus: refusing,
      components: [{ name: "echo", spec: spec() }],
      env: {},
      logger: silent,
      database,
    });
    const ids = (await Promise.all(Array.from({ length: 60 }, (_, i) => first.submit("echo", { json: i })))).map(
      (o) => o.jobId,
    );
    await first.close();

    const second = await embedded(database, [{ name: "echo", spec: spec() }], {
      bus,
      settingsFile: { "relay.batchSize": 10, "relay.pollIntervalMs": 60_000 },
    });
    try {
      await second.run({ name: "echo", concurrency: 16, handle: () => "ok" });
      const jobs = await Promise.all(ids.map((id) => second.coordinator.waitForJob(id, { timeoutMs: 5_000 })));
      expect(jobs.map((j) => j.state)).toEqual(ids.map(() => "completed"));
    } finally {
      await second.close();
      await bus.close();
    }
  });

  it("finds the job of a dead letter whose message is already gone (a replay after a failed record)", async () => {
    const store = await backend.open();
    const bus = createInProcessBus();
    const seqs = new Map<string, number>();
    const recording = withOverrides(bus, {
      publishJob: async (job: Job, opts: Parameters<Bus["publishJob"]>[1]) => {
        const published = await bus.publishJob(job, opts);
        seqs.set(job.job_id, published.seq);
        return published;
      },
    });
    const env = await embedded(store.database, [{ name: "echo", spec: spec() }], { bus: recording });
    try {
      const { jobId } = await env.coordinator.submit("echo", { json: 1 });
      const queued = await waitForState(env.coordinator, jobId, "queued");
      const seq = seqs.get(jobId) as number;
      // The first attempt deleted the message and then failed to record: the replayed event has no bytes.
      const failed = await handleExhausted(
        { component: "echo", streamSeq: seq, deliveries: 3, data: undefined, dedupKey: undefined },
        { bus, store: store.jobs, log: silent },
      );
      expect(queued.state).toBe("queued");
      expect(failed).toMatchObject({ jobId, state: "failed", reasonCode: "dead_lettered" });
      // A stale advisory for an older stream position does not fail the job's newer run.
      expect(
        await store.jobs.recordDeadLetter({
          jobId,
          component: "echo",
          streamSeq: seq + 1000,
          deliveries: 3,
          reasonCode: "dead_lettered",
          reasonDetail: "stale",
        }),
      ).toBeUndefined();
    } finally {
      await env.close();
      await bus.close();
    }
  });

  it("requeues what an in-process bus held when a kept store outlives it", async () => {
    const { database } = await backend.open();
    const firstBus = createInProcessBus();
    const first = await createCoordinator({
      bus: firstBus,
      components: [{ name: "echo", spec: spec() }],
      env: {},
      logger: silent,
      database,
    });
    const { jobId } = await first.submit("echo", { json: 1 });
    await waitForState(first, jobId, "queued");
    await first.close();
    await firstBus.close();

    const second = await embedded(database, [{ name: "echo", spec: spec() }]);
    try {
      await second.run({ name: "echo", handle: () => ({ ok: true }) });
      expect(await second.coordinator.waitForJob(jobId, { timeoutMs: 5_000 })).toMatchObject({ state: "completed" });
    } finally {
      await second.close();
    }
  });

  it("fails a job whose Result the store cannot hold instead of retrying it forever, and refuses NUL at submit", async () => {
    const env = await embedded((await backend.open()).database, [{ name: "echo", spec: spec() }]);
    try {
      await env.run({ name: "echo", handle: () => ({ text: "a\u0000b" }) });
      const { jobId } = await env.coordinator.submit("echo", { json: 1 });
      expect(await env.coordinator.waitForJob(jobId, { timeoutMs: 5_000 })).toMatchObject({
        state: "failed",
        reasonCode: "invalid_output",
        output: null,
      });
      await expect(env.coordinator.submit("echo", { text: "x\u0000y" })).rejects.toMatchObject({
        code: "invalid_request",
        issues: [{ path: "input" }],
      });
      await expect(
        env.coordinator.submit("echo", { json: 1 }, { metadata: { tenant: "a\u0000" } }),
      ).rejects.toMatchObject({ issues: [{ path: "metadata.tenant" }] });
      await expect(env.coordinator.submit("echo", { json: 1 }, { idempotencyKey: "k\u0000" })).rejects.toMatchObject({
        issues: [{ path: "idempotencyKey" }],
      });
      await expect(
        env.coordinator.submit("echo", { text: "too long" }, { limits: { maxBytes: 3 } }),
      ).rejects.toMatchObject({ issues: [{ path: "input", received: "8 bytes" }] });
    } finally {
      await env.close();
    }
  });

  it("fails a job whose Result names a time that does not exist, rather than leaving it queued while the Result comes back forever", async () => {
    const env = await embedded((await backend.open()).database, [{ name: "echo", spec: spec() }]);
    try {
      const { jobId } = await env.coordinator.submit("echo", { json: 1 });
      await waitForState(env.coordinator, jobId, "queued");
      // The contract's pattern allows February 30th; no store does.
      await env.bus.publishResult({
        schema_version: 1,
        job_id: jobId,
        component: "echo",
        status: "completed",
        attempt: 1,
        finished_at: "2026-02-30T00:00:00Z",
        output: { data: 1 },
      });
      const job = await env.coordinator.waitForJob(jobId, { timeoutMs: 5_000 });
      expect(job).toMatchObject({ state: "failed", reasonCode: "invalid_output", output: null });
      expect(job.reasonDetail).toContain('finished_at "2026-02-30T00:00:00Z"');
      expect(Date.parse(job.finishedAt ?? "")).toBeGreaterThan(Date.now() - 60_000);
    } finally {
      await env.close();
    }
  });

  it("fails a job whose Result output nests too deeply to encode, rather than taking it back forever", async () => {
    const env = await embedded((await backend.open()).database, [{ name: "echo", spec: spec() }]);
    try {
      const { jobId } = await env.coordinator.submit("echo", { json: 1 });
      await waitForState(env.coordinator, jobId, "queued");
      // About 20 KB of JSON, well under the inline limit, but deeper than JSON.stringify can recurse.
      let deep: unknown = 1;
      for (let i = 0; i < 20_000; i++) deep = [deep];
      await env.bus.publishResult({
        schema_version: 1,
        job_id: jobId,
        component: "echo",
        status: "completed",
        attempt: 1,
        finished_at: new Date().toISOString(),
        output: { data: deep },
      });
      const job = await env.coordinator.waitForJob(jobId, { timeoutMs: 5_000 });
      expect(job).toMatchObject({ state: "failed", reasonCode: "invalid_output", output: null });
      expect(job.reasonDetail).toContain("nests too deeply");
    } finally {
      await env.close();
    }
  });

  it("leaves a job of a component it does not run waiting in the outbox, and keeps dispatching the rest", async () => {
    const store = await backend.open();
    const env = await embedded(store.database, [{ name: "echo", spec: spec() }]);
    try {
      await env.run({ name: "echo", handle: () => ({}) });
      const { jobId: first } = await env.coordinator.submit("echo", { json: 1 });
      const orphan = {
        ...(await env.coordinator.waitForJob(first, { timeoutMs: 5_000 })).envelope,
        job_id: "orphan-1",
        component: "renamed-away",
      };
      await store.jobs.insertJob({ envelope: orphan, limitKey: null, idempotencyKey: null });
      const { jobId } = await env.coordinator.submit("echo", { json: 2 });
      expect(await env.coordinator.waitForJob(jobId, { timeoutMs: 5_000 })).toMatchObject({ state: "completed" });
      expect(await env.coordinator.getJob("orphan-1")).toMatchObject({ state: "pending", dispatches: 0 });
    } finally {
      await env.close();
    }
  });

  it("checks a project's own defaults: key limits that could never dispatch are refused at startup", async () => {
    const { database } = await backend.open();
    await expect(
      createCoordinator({
        bus: createInProcessBus(),
        components: [{ name: "echo", spec: spec(), limits: { key: "tenant", concurrency: 0 } }],
        env: {},
        logger: silent,
        database,
      }),
    ).rejects.toMatchObject({ message: expect.stringContaining("limits.echo from the project's defaults") });
  });

  it("releases a key's slot once per job, however many times the job is decided or cancelled", async () => {
    const env = await embedded((await backend.open()).database, [
      { name: "echo", spec: spec(), limits: { key: "tenant", concurrency: 1 } },
    ]);
    try {
      let release!: () => void;
      const gate = new Promise<void>((r) => (release = r));
      await env.run({
        name: "echo",
        concurrency: 4,
        async handle(ctx) {
          if ((await ctx.input.json()) === "slow") await gate;
          return {};
        },
      });
      const slow = await env.coordinator.submit("echo", { json: "slow" }, { metadata: { tenant: "a" } });
      const next = await env.coordinator.submit("echo", { json: "next" }, { metadata: { tenant: "a" } });
      await waitForState(env.coordinator, slow.jobId, "queued");
      // Cancel the running job twice: the slot frees once, so exactly one more job of the key dispatches.
      await env.coordinator.cancel(slow.jobId);
      await env.coordinator.cancel(slow.jobId);
      expect(await env.coordinator.waitForJob(next.jobId, { timeoutMs: 5_000 })).toMatchObject({ state: "completed" });
      release();
      const third = await env.coordinator.submit("echo", { json: "third" }, { metadata: { tenant: "a" } });
      expect(await env.coordinator.waitForJob(third.jobId, { timeoutMs: 5_000 })).toMatchObject({ state: "completed" });
    } finally {
      await env.close();
    }
  });
});

async function waitForState(
  coordinator: { getJob(id: string): Promise<{ state: string } | undefined> },
  jobId: string,
  state: string,
): Promise<{ state: string }> {
  for (let i = 0; i < 250; i++) {
    const job = await coordinator.getJob(jobId);
    if (job?.state === state) return job;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`job ${jobId} never reached ${state}`);
}

/**
 * The store's `database` option, with every dispatch record first waiting for `hold`: on SQL at the record's
 * statement, in memory at the store's method (the memory store has no statements to catch).
 */
function holdingDispatchRecords(store: OpenStore, hold: () => Promise<void>): DatabaseOption {
  const { database } = store;
  if ("client" in database) {
    const base = database.client;
    const client: SqlClient = {
      ...base,
      async query<R extends Record<string, unknown> = Record<string, unknown>>(
        text: string,
        params?: readonly unknown[],
      ): Promise<QueryResult<R>> {
        if (text.includes("marked AS (")) await hold();
        return base.query<R>(text, params);
      },
    };
    return { client };
  }
  if (!("memory" in database) || database.memory === true)
    throw new Error("holdingDispatchRecords needs a store opened by storeBackends()");
  const jobs = database.memory.jobs;
  const markDispatched = jobs.markDispatched.bind(jobs);
  jobs.markDispatched = async (entries: readonly Dispatched[]): Promise<DispatchRecord> => {
    await hold();
    return markDispatched(entries);
  };
  return database;
}

describe("one coordinator per in-process bus", () => {
  it("refuses a second coordinator on the same in-process bus while the first runs, and starts one once it closed", async () => {
    const bus = createInProcessBus();
    const components = [{ name: "echo", spec: spec() }];
    const first = await createCoordinator({ bus, components, env: {}, logger: silent });
    await expect(createCoordinator({ bus, components, env: {}, logger: silent })).rejects.toThrow(
      /another coordinator \(tessera:[0-9a-f-]+, on the memory store\) is running on this bus, and its store \(the memory store\) cannot be shared/,
    );
    await first.close();
    const second = await createCoordinator({ bus, components, env: {}, logger: silent });
    await second.close();
  });
});
