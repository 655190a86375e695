/**
 * Crash safety of the transactional outbox with real parts: a coordinator in a child process on a real
 * Postgres and a real nats-server, SIGKILLed between the DB commit and the publish, or between the
 * publish and the outbox row's deletion; a coordinator restarted on the same DB and NATS finishes the
 * work, and a worker runs every job exactly once.
 */
import type { Bus } from "@tessera/bus";
import { waitFor } from "@tessera/testkit";
import { defineComponent } from "@tessera/worker";
import { describe, expect, it } from "vitest";
import { createCoordinator } from "../../src/create-coordinator.js";
import { createPgClient } from "../../src/sql/pg-client.js";
import type { QueryResult, SqlClient } from "../../src/sql/sql-client.js";
import type { Coordinator } from "../../src/types.js";
import { silent } from "../harness.js";
import { processSpec, processSuite, storeSnapshot, tally, type Child } from "./support.js";

const suite = processSuite();
const N = 5;
const spec = processSpec();

async function coordinatorChild(opts: {
  url: string;
  component: string;
  mode: "hang-before-publish" | "hang-after-publish";
  count: number;
}): Promise<Child> {
  const child = suite.spawn("coordinator-child.ts", {
    DATABASE_URL: opts.url,
    TEST_COMPONENT: opts.component,
    TEST_SPEC: JSON.stringify(spec),
    TEST_MODE: opts.mode,
    TEST_COUNT: String(opts.count),
  });
  await child.line(`the ${opts.mode} coordinator child to be ready`, (l) => l["event"] === "ready", 20_000);
  return child;
}

/** A child that submits N jobs while no publish can complete, SIGKILLed once every submit returned. */
async function commitWithoutPublish(url: string, component: string): Promise<string[]> {
  const child = await coordinatorChild({ url, component, mode: "hang-before-publish", count: N });
  const submitted = await child.linesMatching(
    `${N} submits to return in the child`,
    (l) => l["event"] === "submitted",
    N,
  );
  expect(submitted.map((l) => l["state"])).toEqual(Array.from({ length: N }, () => "pending"));
  // The relay did try: its first publish is the one hanging.
  await child.line("the relay to call publishJob", (l) => l["event"] === "publish-held");
  expect((await child.kill()).signal).toBe("SIGKILL");
  return submitted.map((l) => l["jobId"] as string);
}

/** A worker on its own JetStream connection that records every job id its handler runs. */
async function recordingWorker(component: string): Promise<string[]> {
  const ran: string[] = [];
  const bus = await suite.bus("worker");
  await suite.worker(
    defineComponent({
      isolation: "none",
      name: component,
      concurrency: 2,
      handle: (ctx) => (ran.push(ctx.jobId), { ran: ctx.jobId }),
    }),
    bus,
  );
  return ran;
}

async function allCompleted(coordinator: Coordinator, ids: readonly string[]): Promise<void> {
  for (const id of ids)
    expect(await coordinator.waitForJob(id, { timeoutMs: 15_000 })).toMatchObject({
      jobId: id,
      state: "completed",
      duplicateResults: 0,
    });
}

async function drained(bus: Bus, component: string): Promise<void> {
  await waitFor(
    `the ${component} stream to be empty (every job acked)`,
    async () => (await bus.queueDepth(component)).total === 0,
    10_000,
  );
}

describe("a coordinator SIGKILLed in the outbox relay", () => {
  it("after the DB commit and before the publish: the jobs wait in the outbox and complete after a restart", async () => {
    const url = await suite.database();
    const component = suite.componentName("crash-before-publish");
    const ids = await commitWithoutPublish(url, component);
    const sql = await suite.sql(url);
    const bus = await suite.bus("test");

    // Committed, owed to the bus, and not on it.
    const before = await storeSnapshot(sql);
    expect(before.jobs).toEqual(ids.map((jobId) => ({ jobId, state: "pending", dispatches: 0, streamSeq: null })));
    expect(before.outbox).toEqual(ids.map((jobId) => ({ jobId, dedupKey: jobId })));
    expect(await bus.queueDepth(component)).toMatchObject({ total: 0 });

    const coordinator = await suite.coordinator({ bus, url, components: [{ name: component, spec }] });
    await waitFor(
      "the restarted relay to publish the outbox",
      async () => (await storeSnapshot(sql)).outbox.length === 0,
      10_000,
    );
    expect(await bus.queueDepth(component)).toMatchObject({ total: N });
    expect((await storeSnapshot(sql)).jobs.map((j) => j.state)).toEqual(Array.from({ length: N }, () => "queued"));

    const ran = await recordingWorker(component);
    await allCompleted(coordinator, ids);
    await drained(bus, component);
    expect([...tally(ran)].sort()).toEqual(ids.map((id) => [id, 1]).sort());
    expect((await storeSnapshot(sql)).outbox).toEqual([]);
    expect(coordinator.counters()).toMatchObject({ published: N, resultsApplied: N, duplicateResults: 0 });
  });

  it("after the publish and before the outbox row is deleted: the republish is deduplicated and no job runs twice", async () => {
    const url = await suite.database();
    const component = suite.componentName("crash-after-publish");
    // Phase 1 (as above): N jobs committed, nothing published. Phase 2: a coordinator whose relay publishes
    // all N for real and is killed before it marks a single row sent.
    const ids = await commitWithoutPublish(url, component);
    const child = await coordinatorChild({ url, component, mode: "hang-after-publish", count: 0 });
    const published = await child.linesMatching(
      `the child's relay to publish all ${N} jobs`,
      (l) => l["event"] === "published",
      N,
    );
    expect(published.map((l) => l["jobId"]).sort()).toEqual([...ids].sort());
    expect(published.every((l) => l["duplicate"] === false)).toBe(true);
    expect((await child.kill()).signal).toBe("SIGKILL");

    const sql = await suite.sql(url);
    const bus = await suite.bus("test");
    const before = await storeSnapshot(sql);
    expect(before.jobs).toEqual(ids.map((jobId) => ({ jobId, state: "pending", dispatches: 0, streamSeq: null })));
    expect(before.outbox.map((o) => o.jobId)).toEqual(ids);
    expect(await bus.queueDepth(component)).toMatchObject({ pending: N, total: N });

    // The restarted relay publishes every row again with the same dedup key: the stream keeps one copy each.
    const coordinator = await suite.coordinator({ bus, url, components: [{ name: component, spec }] });
    // The relay counts a publish once its record's answer is back, a moment after the outbox reads empty.
    await waitFor(
      "the restarted relay to republish and mark the outbox",
      async () => (await storeSnapshot(sql)).outbox.length === 0 && coordinator.counters().published >= N,
      10_000,
    );
    expect(coordinator.counters().published).toBe(N);
    expect(await bus.queueDepth(component)).toMatchObject({ total: N });
    const seqs = new Map(published.map((l) => [l["jobId"] as string, l["seq"] as number]));
    // Queued once, at the stream position of the first publish.
    expect((await storeSnapshot(sql)).jobs).toEqual(
      ids.map((jobId) => ({ jobId, state: "queued", dispatches: 1, streamSeq: seqs.get(jobId) })),
    );

    const ran = await recordingWorker(component);
    await allCompleted(coordinator, ids);
    await drained(bus, component);
    expect([...tally(ran)].sort()).toEqual(ids.map((id) => [id, 1]).sort());
    expect((await storeSnapshot(sql)).outbox).toEqual([]);
  });
});

/**
 * Regression: SqlJobStore.markDispatched once deleted the outbox rows before locking the job rows, while
 * applyResult (and recordDeadLetter, cancel) lock the job row first and then delete its outbox rows. A
 * Result applied while the relay recorded that job's publish deadlocked the two, and when Postgres aborted
 * markDispatched the dispatch was never recorded. Here the race is forced: a lock the test holds on the
 * job row makes the relay's record and the Result's write wait for it together, then both are let go.
 */
describe("lock order of the outbox relay and the Result consumer", () => {
  it("a Result applied while the relay records the publish: no deadlock, and the dispatch is recorded", async () => {
    const url = await suite.database();
    const component = suite.componentName("lock-order");
    const watch = await suite.sql(url);
    const bus = await suite.bus("test");
    const base = createPgClient({ connectionString: url });
    suite.defer(() => base.close());
    const holder = createPgClient({ connectionString: url, max: 1 });
    suite.defer(() => holder.close());

    const deadlocks: unknown[] = [];
    let recordHeld: (() => void) | undefined;
    const recordReady = new Promise<void>((resolve) => (recordHeld = resolve));
    let releaseRecord!: () => void;
    const recordMayRun = new Promise<void>((resolve) => (releaseRecord = resolve));
    const waiting = async (pattern: string): Promise<number> => {
      const res = await watch.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM pg_stat_activity
          WHERE datname = current_database() AND pid <> pg_backend_pid() AND wait_event_type = 'Lock' AND query LIKE $1`,
        [pattern],
      );
      return res.rows[0]?.n ?? 0;
    };
    // The relay's record (markDispatched) waits here until the test holds the job row.
    const client: SqlClient = {
      dialect: base.dialect,
      async query<R extends Record<string, unknown> = Record<string, unknown>>(
        text: string,
        params?: readonly unknown[],
      ): Promise<QueryResult<R>> {
        if (recordHeld !== undefined && /marked AS \(/.test(text)) {
          recordHeld();
          recordHeld = undefined;
          await recordMayRun;
        }
        try {
          return await base.query<R>(text, params);
        } catch (err) {
          if ((err as { code?: unknown }).code === "40P01") deadlocks.push(err);
          throw err;
        }
      },
      transaction: (fn) => base.transaction(fn),
      ping: () => base.ping(),
      close: () => base.close(),
    };
    const coordinator = await createCoordinator({
      bus,
      components: [{ name: component, spec }],
      database: { client },
      env: {},
      logger: silent,
    });
    suite.defer(() => coordinator.close());

    const { jobId } = await coordinator.submit(component, { json: 1 });
    await recordReady;
    let unlock!: () => void;
    const unlocked = new Promise<void>((resolve) => (unlock = resolve));
    const holding = holder.transaction(async (tx) => {
      await tx.query(`SELECT 1 FROM tessera_jobs WHERE job_id = $1 FOR UPDATE`, [jobId]);
      releaseRecord();
      await unlocked;
    });
    await waitFor(
      "the relay's record to wait for the job row",
      async () => (await waiting("%marked AS (%")) === 1,
      10_000,
    );
    await bus.publishResult({
      schema_version: 1,
      job_id: jobId,
      component,
      status: "completed",
      attempt: 1,
      instance_id: "test",
      finished_at: new Date().toISOString(),
      duration_ms: 1,
      output: { data: "done" },
    });
    await waitFor(
      "the Result's write to wait for the job row too",
      async () => (await waiting("%SET state = l.status%")) === 1,
      10_000,
    );
    unlock();
    await holding;
    expect(await coordinator.waitForJob(jobId, { timeoutMs: 10_000 })).toMatchObject({ state: "completed" });
    // The publish count follows the record's answer, a moment after its commit is visible here.
    await waitFor(
      "the dispatch to be recorded and counted",
      async () => (await storeSnapshot(watch)).jobs[0]?.dispatches === 1 && coordinator.counters().published >= 1,
      5_000,
    );
    expect(deadlocks).toEqual([]);
    expect((await storeSnapshot(watch)).jobs[0]?.streamSeq).toBeGreaterThan(0);
    expect((await storeSnapshot(watch)).outbox).toEqual([]);
    expect(coordinator.counters().published).toBe(1);
  });
});
