import type { Result } from "@tessera/contract";
import { describe, expect, it } from "vitest";
import type { JobStorage, OutboxEntry } from "../../src/store/job-storage.js";
import { KEY_SEPARATOR } from "../../src/store/job-storage.js";
import type { AuditRecord } from "../../src/types.js";
import { skipping, storeBackends } from "../store-backends.js";
import { envelope, result, submit } from "./job-fixtures.js";

/**
 * The job store's contract, on the SQL store (PGlite and Postgres) and on the memory store: the same calls,
 * the same answers. What the coordinator suites cannot reach easily is here: races, orderings, stale facts,
 * the values a column refuses.
 */

/** Submitted and recorded as published at `streamSeq`. */
async function queued(
  store: JobStorage,
  streamSeq: number,
  component = "echo",
): Promise<{ jobId: string; outboxId: number }> {
  const job = await submit(store, component);
  await store.markDispatched([{ ...job, streamSeq }]);
  return job;
}

/** A whole retention pass in steps of `limit`: what each step deleted. */
async function prunePass(store: JobStorage, before: Date, limit = 1_000): Promise<number[]> {
  const steps: number[] = [];
  let after: number | undefined;
  for (;;) {
    const step = await store.pruneDecided(before, { limit, ...(after !== undefined ? { after } : {}) });
    steps.push(step.deleted);
    if (step.next === null) return steps;
    after = step.next;
  }
}

const total = (steps: number[]): number => steps.reduce((a, b) => a + b, 0);
/** Long enough for the store's clock (Postgres's, to the microsecond; the memory store's, to the ms) to move on. */
const tick = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 15));

const ids = (entries: OutboxEntry[]): number[] => entries.map((e) => e.id);
const sorted = <T>(values: T[]): T[] => [...values].sort();

describe.each(storeBackends())("job storage on $name", (backend) => {
  describe("insert and idempotency", () => {
    it("records a pending job with its outbox row and returns it as a fresh copy each time", async () => {
      const { jobs } = await backend.open();
      const env = envelope("echo", { input: { n: 1 }, metadata: { tenant: "acme" } });
      const inserted = await jobs.insertJob({ envelope: env, limitKey: "acme", idempotencyKey: null });
      expect(inserted).toMatchObject({
        created: true,
        outboxId: expect.any(Number),
        job: { jobId: env.job_id, component: "echo", state: "pending", limitKey: "acme", reasonCode: null },
      });
      const job = await jobs.getJob(env.job_id);
      expect(job).toEqual({
        jobId: env.job_id,
        component: "echo",
        state: "pending",
        limitKey: "acme",
        idempotencyKey: null,
        envelope: env,
        attempts: 0,
        dispatches: 0,
        redrives: 0,
        reasonCode: null,
        reasonDetail: null,
        output: null,
        instanceId: null,
        durationMs: null,
        duplicateResults: 0,
        createdAt: inserted.job.updatedAt,
        dispatchedAt: null,
        finishedAt: null,
        updatedAt: inserted.job.updatedAt,
      });
      (job as { envelope: { input: { inline: { n: number } } } }).envelope.input.inline.n = 99;
      expect((await jobs.getJob(env.job_id))?.envelope.input.inline).toEqual({ n: 1 });
      expect(await jobs.getJob("missing")).toBeUndefined();
    });

    it("creates one job per idempotency key and component, also when the inserts race", async () => {
      const { jobs } = await backend.open();
      const racing = await Promise.all(
        Array.from({ length: 8 }, (_, i) =>
          jobs.insertJob({ envelope: envelope("echo", { input: i }), limitKey: null, idempotencyKey: "order-7" }),
        ),
      );
      expect(racing.filter((r) => r.created)).toHaveLength(1);
      const winner = racing.find((r) => r.created)?.job.jobId;
      expect(new Set(racing.map((r) => r.job.jobId))).toEqual(new Set([winner]));
      expect(racing.filter((r) => !r.created).every((r) => r.outboxId === undefined)).toBe(true);
      // The same key in another component is another job; no key never conflicts.
      expect(
        (await jobs.insertJob({ envelope: envelope("other"), limitKey: null, idempotencyKey: "order-7" })).created,
      ).toBe(true);
      expect((await jobs.insertJob({ envelope: envelope("echo"), limitKey: null, idempotencyKey: null })).created).toBe(
        true,
      );
      expect((await jobs.findByIdempotencyKey("echo", "order-7"))?.jobId).toBe(winner);
      expect(await jobs.findByIdempotencyKey("echo", "nope")).toBeUndefined();
      expect((await jobs.listJobs({ component: "echo" })).items).toHaveLength(2);
      expect((await jobs.nextOutboxBatch(100, [], false, ["echo", "other"])).length).toBe(3);
    });

    it("refuses a second job with the same id, alone among the inserts it races with", async () => {
      const { jobs } = await backend.open();
      const env = envelope("echo");
      await jobs.insertJob({ envelope: env, limitKey: null, idempotencyKey: null });
      const outcomes = await Promise.allSettled([
        jobs.insertJob({ envelope: envelope("echo"), limitKey: null, idempotencyKey: null }),
        jobs.insertJob({ envelope: { ...env, input: { inline: 2 } }, limitKey: null, idempotencyKey: null }),
        jobs.insertJob({ envelope: envelope("echo"), limitKey: null, idempotencyKey: null }),
      ]);
      expect(outcomes.map((o) => o.status)).toEqual(["fulfilled", "rejected", "fulfilled"]);
      expect((outcomes[1] as PromiseRejectedResult).reason).toMatchObject({ code: "23505" });
      expect((await jobs.getJob(env.job_id))?.envelope.input.inline).toBeNull();
    });
  });

  describe("the outbox", () => {
    it("hands out rows oldest first, only of the components asked for, leaving out skipped ids", async () => {
      const { jobs } = await backend.open();
      const a = await submit(jobs, "echo");
      const orphan = await submit(jobs, "renamed-away");
      const b = await submit(jobs, "echo");
      const c = await submit(jobs, "echo");
      const batch = await jobs.nextOutboxBatch(10, [], false, ["echo"]);
      expect(ids(batch)).toEqual([a.outboxId, b.outboxId, c.outboxId]);
      expect(batch[0]).toMatchObject({
        jobId: a.jobId,
        component: "echo",
        limitKey: null,
        dedupKey: a.jobId,
        envelope: { job_id: a.jobId },
      });
      expect(JSON.parse(new TextDecoder().decode(batch[0]?.encoded))).toEqual(batch[0]?.envelope);
      expect(ids(await jobs.nextOutboxBatch(2, [], false, ["echo"]))).toEqual([a.outboxId, b.outboxId]);
      expect(ids(await jobs.nextOutboxBatch(10, [], false, ["echo"], skipping([a.outboxId, c.outboxId])))).toEqual([
        b.outboxId,
      ]);
      expect(ids(await jobs.nextOutboxBatch(10, [], false, ["renamed-away"]))).toEqual([orphan.outboxId]);
      expect(await jobs.nextOutboxBatch(10, [], false, [])).toEqual([]);
    });

    it("takes a fair batch rank by rank across limit keys, and skips blocked keys", async () => {
      const { jobs } = await backend.open();
      const rows: Record<string, number[]> = { a: [], b: [], c: [], none: [], empty: [] };
      const add = async (name: keyof typeof rows, limitKey: string | null, n: number): Promise<void> => {
        for (let i = 0; i < n; i++) rows[name]?.push((await submit(jobs, "echo", { limitKey })).outboxId);
      };
      await add("a", "a", 5);
      await add("b", "b", 2);
      await add("none", null, 2);
      await add("empty", "", 1);
      await add("c", "c", 1);
      const r = (name: string, i: number): number => rows[name]?.[i] as number;
      // Rank 1 of every key in id order, then rank 2, ...: key "a"'s backlog cannot fill the batch.
      expect(ids(await jobs.nextOutboxBatch(6, [], true, ["echo"]))).toEqual([
        r("a", 0),
        r("b", 0),
        r("none", 0),
        r("empty", 0),
        r("c", 0),
        r("a", 1),
      ]);
      // A null key and "" are ranked apart but blocked together, as the key "".
      expect(
        ids(await jobs.nextOutboxBatch(10, [`echo${KEY_SEPARATOR}a`, `echo${KEY_SEPARATOR}`], true, ["echo"])),
      ).toEqual([r("b", 0), r("c", 0), r("b", 1)]);
      // Only the oldest 8 x batchSize eligible rows are ranked: with a batch of 1, the 8 oldest.
      expect(ids(await jobs.nextOutboxBatch(1, [], true, ["echo"], skipping([r("a", 0)])))).toEqual([r("a", 1)]);
      expect(ids(await jobs.nextOutboxBatch(2, [], true, ["echo"], skipping([r("a", 0), r("a", 1)])))).toEqual([
        r("a", 2),
        r("b", 0),
      ]);
    });

    it("records a publish: pending becomes queued, and a job decided or cancelled meanwhile keeps its state", async () => {
      const { jobs } = await backend.open();
      const fresh = await submit(jobs);
      const done = await submit(jobs);
      const gone = await submit(jobs);
      const requeued = await queued(jobs, 1);
      await jobs.applyResult(result(done.jobId, "echo"));
      await jobs.cancel(gone.jobId);
      const record = await jobs.markDispatched([
        { ...fresh, streamSeq: 11 },
        { ...done, streamSeq: 12 },
        { ...gone, streamSeq: 13 },
        { ...requeued, streamSeq: 14 },
        { outboxId: 999_999, jobId: "missing", streamSeq: 15 },
      ]);
      expect(record.queued).toEqual([
        {
          jobId: fresh.jobId,
          component: "echo",
          state: "queued",
          limitKey: null,
          reasonCode: null,
          updatedAt: expect.any(String),
        },
      ]);
      expect(sorted(record.settled)).toEqual(sorted([done.jobId, gone.jobId]));
      expect(record.cancelled).toEqual([{ ...gone, streamSeq: 13 }]);
      expect(await jobs.getJob(fresh.jobId)).toMatchObject({
        state: "queued",
        dispatches: 1,
        dispatchedAt: expect.any(String),
      });
      // Decided before the record: it still went out, and says when.
      expect(await jobs.getJob(done.jobId)).toMatchObject({
        state: "completed",
        dispatches: 1,
        dispatchedAt: expect.any(String),
      });
      expect(await jobs.getJob(gone.jobId)).toMatchObject({
        state: "cancelled",
        dispatches: 1,
        dispatchedAt: expect.any(String),
      });
      expect(await jobs.getJob(requeued.jobId)).toMatchObject({ state: "queued", dispatches: 2 });
      expect(await jobs.jobIdAtStreamSeq("echo", 12)).toBe(done.jobId);
      expect(await jobs.jobIdAtStreamSeq("echo", 1)).toBeUndefined();
      expect(await jobs.jobIdAtStreamSeq("other", 11)).toBeUndefined();
      expect(await jobs.nextOutboxBatch(10, [], false, ["echo"])).toEqual([]);
      expect(await jobs.markDispatched([])).toEqual({ queued: [], settled: [], cancelled: [] });
    });

    it("counts both publishes of a job named twice in one record, at the later one's position", async () => {
      const { jobs } = await backend.open();
      const job = await submit(jobs);
      const record = await jobs.markDispatched([
        { ...job, streamSeq: 7 },
        { ...job, streamSeq: 9 },
      ]);
      expect(record.queued.map((j) => j.jobId)).toEqual([job.jobId]);
      expect(await jobs.getJob(job.jobId)).toMatchObject({ state: "queued", dispatches: 2 });
      expect(await jobs.jobIdAtStreamSeq("echo", 9)).toBe(job.jobId);
    });

    it("dates a dispatch at its publish, not at its record, and never after the record", async () => {
      const { jobs } = await backend.open();
      const early = await submit(jobs);
      const later = await submit(jobs);
      const now = Date.now();
      await jobs.markDispatched([
        { ...early, streamSeq: 1, publishedAt: now - 5_000 },
        { ...later, streamSeq: 2, publishedAt: now + 60_000 },
      ]);
      const at = async (jobId: string): Promise<number> => {
        const job = await jobs.getJob(jobId);
        return Date.parse(job?.dispatchedAt ?? "") - Date.parse(job?.updatedAt ?? "");
      };
      // updatedAt is the record's time on the store's clock: the publish 5 s earlier is dated 5 s before it.
      expect(await at(early.jobId)).toBeGreaterThan(-5_100);
      expect(await at(early.jobId)).toBeLessThan(-4_900);
      expect(await at(later.jobId)).toBe(0);
    });
    it("puts queued jobs back in the outbox under a fresh dedup key, and lists the keyed ones for the limiter", async () => {
      const { jobs } = await backend.open();
      const plain = await queued(jobs, 1);
      const keyed = await submit(jobs, "echo", { limitKey: "t1" });
      await jobs.markDispatched([{ ...keyed, streamSeq: 2 }]);
      const waiting = await submit(jobs);
      expect(await jobs.queuedWithKeys()).toEqual([{ jobId: keyed.jobId, component: "echo", limitKey: "t1" }]);
      expect(await jobs.requeueQueued()).toBe(2);
      expect((await jobs.getJob(plain.jobId))?.state).toBe("pending");
      const batch = await jobs.nextOutboxBatch(10, [], false, ["echo"]);
      // The requeued rows follow the older one; among themselves the SQL store's order is not defined.
      expect(batch[0]?.jobId).toBe(waiting.jobId);
      expect(sorted(batch.slice(1).map((e) => e.jobId))).toEqual(sorted([plain.jobId, keyed.jobId]));
      expect(new Set(batch.map((e) => e.dedupKey))).toEqual(
        new Set([waiting.jobId, `${plain.jobId}:restart:1`, `${keyed.jobId}:restart:1`]),
      );
      expect(await jobs.queuedWithKeys()).toEqual([]);
      expect(await jobs.requeueQueued()).toBe(0);
    });
  });

  describe("Results", () => {
    it("applies a Result once; a duplicate, a late one and one of another component change nothing", async () => {
      const { jobs } = await backend.open();
      const { jobId } = await queued(jobs, 1);
      const finishedAt = "2026-11-23T14:30:00.123456Z";
      const applied = await jobs.applyResult(
        result(jobId, "echo", { attempt: 2, finished_at: finishedAt, duration_ms: 2.6, reason_detail: "fine" }),
      );
      expect(applied).toEqual({
        kind: "applied",
        job: {
          jobId,
          component: "echo",
          state: "completed",
          limitKey: null,
          reasonCode: null,
          updatedAt: expect.any(String),
        },
      });
      const after = await jobs.getJob(jobId);
      expect(after).toMatchObject({
        state: "completed",
        attempts: 2,
        output: { data: { ok: true } },
        instanceId: "w-1",
        durationMs: 3,
        reasonDetail: "fine",
        finishedAt: "2026-11-23T14:30:00.123Z",
        duplicateResults: 0,
      });
      expect(await jobs.applyResult(result(jobId, "echo", { status: "failed", reason_code: "late" }))).toMatchObject({
        kind: "duplicate",
        job: { state: "completed" },
      });
      expect(await jobs.applyResult(result(jobId, "other"))).toEqual({ kind: "unknown" });
      expect(await jobs.applyResult(result("missing", "echo"))).toEqual({ kind: "unknown" });
      expect(await jobs.getJob(jobId)).toMatchObject({
        state: "completed",
        attempts: 2,
        reasonCode: null,
        duplicateResults: 1,
      });
      expect(await jobs.nextOutboxBatch(10, [], false, ["echo"])).toEqual([]);
    });

    it("applies a Result that beats the dispatch record, and deletes the job's outbox row", async () => {
      const { jobs } = await backend.open();
      const job = await submit(jobs);
      expect(
        (
          await jobs.applyResult(
            result(job.jobId, "echo", { status: "failed", reason_code: "bad_input", output: undefined }),
          )
        ).kind,
      ).toBe("applied");
      expect(await jobs.getJob(job.jobId)).toMatchObject({
        state: "failed",
        reasonCode: "bad_input",
        output: null,
        dispatches: 0,
      });
      expect(await jobs.nextOutboxBatch(10, [], false, ["echo"])).toEqual([]);
      expect((await jobs.markDispatched([{ ...job, streamSeq: 1 }])).settled).toEqual([job.jobId]);
    });

    it("runs a hook before applying, only for a Result that will be applied", async () => {
      const { jobs } = await backend.open();
      const { jobId } = await queued(jobs, 1);
      const seen: string[] = [];
      const hook = async (job: { jobId: string; state: string }): Promise<void> =>
        void seen.push(`${job.jobId}:${job.state}`);
      expect((await jobs.applyResult(result(jobId, "echo"), hook)).kind).toBe("applied");
      expect((await jobs.applyResult(result(jobId, "echo"), hook)).kind).toBe("duplicate");
      expect(await jobs.applyResult(result(jobId, "other"), hook)).toEqual({ kind: "unknown" });
      expect(seen).toEqual([`${jobId}:queued`]);
      const failing = await queued(jobs, 2);
      await expect(
        jobs.applyResult(result(failing.jobId, "echo"), () => Promise.reject(new Error("hook failed"))),
      ).rejects.toThrow("hook failed");
      expect((await jobs.getJob(failing.jobId))?.state).toBe("queued");
    });

    it("refuses what a column cannot hold with Postgres's data exception, and changes nothing", async () => {
      const { jobs } = await backend.open();
      const { jobId } = await queued(jobs, 1);
      const refusals: [Partial<Result>, string][] = [
        [{ output: { data: "a\u0000b" } }, "22P05"],
        [{ output: { data: { ["k\u0000"]: 1 } } }, "22P05"],
        [{ output: { data: "lone \ud800 surrogate" } }, "22P02"],
        [{ instance_id: "w\u0000" }, "22021"],
        [{ attempt: 2 ** 31 }, "22003"],
        [{ duration_ms: 2 ** 31 }, "22003"],
        [{ finished_at: "2026-02-30T00:00:00Z" }, "22008"],
        [{ finished_at: "0000-01-01T00:00:00Z" }, "22008"],
        [{ finished_at: "0000-01-01T00:00:00.000Z" }, "22008"],
        [{ finished_at: "2026-02-30T00:00:00.000Z" }, "22008"],
        [{ finished_at: "2026-01-01T00:00:00+16:00" }, "22009"],
        // A leap second may carry a fraction, but no time of day goes past 24:00:00.000000.
        [{ finished_at: "2026-01-01T23:59:60.5Z" }, "22008"],
        [{ finished_at: "2026-01-01T24:00:00.000001Z" }, "22008"],
      ];
      for (const [overrides, code] of refusals)
        await expect(
          jobs.applyResult(result(jobId, "echo", overrides)),
          JSON.stringify(overrides),
        ).rejects.toMatchObject({ code });
      expect(await jobs.getJob(jobId)).toMatchObject({ state: "queued", duplicateResults: 0 });
      // An escaped backslash before "u0000" is text, not NUL; a lone surrogate in a text column becomes U+FFFD.
      const ok = await jobs.applyResult(
        result(jobId, "echo", {
          output: { data: "\\u0000" },
          instance_id: "w\udc00",
          finished_at: "2026-01-01T23:59:60Z",
        }),
      );
      expect(ok.kind).toBe("applied");
      expect(await jobs.getJob(jobId)).toMatchObject({
        output: { data: "\\u0000" },
        instanceId: "w\ufffd",
        finishedAt: "2026-01-02T00:00:00.000Z",
      });
      // Fractions are rounded to microseconds half to even (Postgres's rint), a leap second's included.
      const taken: [string, string][] = [
        ["2026-01-01T12:30:60.5Z", "2026-01-01T12:31:00.500Z"],
        ["2026-01-01T12:30:60.9999996Z", "2026-01-01T12:31:01.000Z"],
        ["2026-01-01T24:00:00.0000005Z", "2026-01-02T00:00:00.000Z"],
        ["2026-01-01T23:59:59.9999995Z", "2026-01-02T00:00:00.000Z"],
      ];
      for (const [i, [finishedAt, stored]] of taken.entries()) {
        const job = await queued(jobs, 10 + i);
        expect((await jobs.applyResult(result(job.jobId, "echo", { finished_at: finishedAt }))).kind, finishedAt).toBe(
          "applied",
        );
        expect((await jobs.getJob(job.jobId))?.finishedAt, finishedAt).toBe(stored);
      }
    });

    it("refuses a bad Result alone among the Results written with it", async () => {
      const { jobs } = await backend.open();
      const [a, b, c] = [await queued(jobs, 1), await queued(jobs, 2), await queued(jobs, 3)];
      const outcomes = await Promise.allSettled([
        jobs.applyResult(result(a.jobId, "echo")),
        jobs.applyResult(result(b.jobId, "echo", { output: { data: "\u0000" } })),
        jobs.applyResult(result(c.jobId, "echo")),
      ]);
      expect(outcomes.map((o) => o.status)).toEqual(["fulfilled", "rejected", "fulfilled"]);
      expect((await jobs.countsByComponent()).get("echo")).toMatchObject({ completed: 2, queued: 1 });
    });

    it("records publishes and Results issued together, a job's record and its own Result in either order", async () => {
      const { jobs } = await backend.open();
      const [a, b, c, d] = [await submit(jobs), await submit(jobs), await submit(jobs), await submit(jobs)];
      // In one tick, so the order the store writes them in is its own: a record and a Result of one job may
      // land either way round, and each record reports what it found.
      const [recordAB, resultC, resultA, recordCD] = await Promise.all([
        jobs.markDispatched([
          { ...a, streamSeq: 1 },
          { ...b, streamSeq: 2 },
        ]),
        jobs.applyResult(result(c.jobId, "echo")),
        jobs.applyResult(result(a.jobId, "echo")),
        jobs.markDispatched([
          { ...c, streamSeq: 3 },
          { ...d, streamSeq: 4 },
        ]),
      ]);
      expect(resultC.kind).toBe("applied");
      expect(resultA.kind).toBe("applied");
      for (const [record, decided, open] of [
        [recordAB, a, b],
        [recordCD, c, d],
      ] as const) {
        const queuedIds = record.queued.map((j) => j.jobId);
        expect(queuedIds).toContain(open.jobId);
        // The decided job was found pending (its Result came later) or completed (it came first), never both.
        expect(sorted([...queuedIds, ...record.settled])).toEqual(sorted([decided.jobId, open.jobId]));
        expect(record.cancelled).toEqual([]);
      }
      for (const [job, state, seq] of [
        [a, "completed", 1],
        [b, "queued", 2],
        [c, "completed", 3],
        [d, "queued", 4],
      ] as const) {
        expect(await jobs.getJob(job.jobId)).toMatchObject({ state, dispatches: 1 });
        expect(await jobs.jobIdAtStreamSeq("echo", seq)).toBe(job.jobId);
      }
      expect(await jobs.nextOutboxBatch(10, [], false, ["echo"])).toEqual([]);
    });

    it("records a publish written beside a Result the database refuses", async () => {
      const { jobs } = await backend.open();
      const bad = await queued(jobs, 1);
      const fresh = await submit(jobs);
      const [refused, record] = await Promise.allSettled([
        jobs.applyResult(result(bad.jobId, "echo", { output: { data: "\u0000" } })),
        jobs.markDispatched([{ ...fresh, streamSeq: 2 }]),
      ]);
      expect(refused.status).toBe("rejected");
      expect(record).toMatchObject({ status: "fulfilled", value: { queued: [{ jobId: fresh.jobId }] } });
      expect(await jobs.getJob(bad.jobId)).toMatchObject({ state: "queued" });
      expect(await jobs.getJob(fresh.jobId)).toMatchObject({ state: "queued", dispatches: 1 });
    });
  });

  describe("dead letters and redrive", () => {
    it("ignores a letter replayed after its job was redriven, before the new run's publish is recorded", async () => {
      const { jobs } = await backend.open();
      const { jobId } = await queued(jobs, 7);
      const letter = {
        jobId,
        component: "echo",
        streamSeq: 7,
        deliveries: 3,
        reasonCode: "dead_lettered",
        reasonDetail: "exhausted 3 deliveries",
      };
      expect(await jobs.recordDeadLetter(letter)).toMatchObject({ state: "failed" });
      expect(await jobs.redrive(jobId)).toMatchObject({ kind: "redriven" });
      // The job still names stream position 7: its redriven publish has not been recorded yet.
      expect(await jobs.recordDeadLetter(letter)).toBeUndefined();
      expect(await jobs.getJob(jobId)).toMatchObject({ state: "pending", redrives: 1 });
      expect((await jobs.nextOutboxBatch(10, [], false, ["echo"])).map((e) => e.dedupKey)).toEqual([
        `${jobId}:redrive:1`,
      ]);
    });

    it("fails a job once per dead letter, not for a stale stream position, and redrives it with a fresh dedup key", async () => {
      const { jobs } = await backend.open();
      const { jobId } = await queued(jobs, 7);
      const letter = {
        jobId,
        component: "echo",
        streamSeq: 7,
        deliveries: 3,
        reasonCode: "dead_lettered",
        reasonDetail: "exhausted 3 deliveries",
      };
      expect(await jobs.recordDeadLetter({ ...letter, streamSeq: 6 })).toBeUndefined();
      const failed = await jobs.recordDeadLetter(letter);
      expect(failed).toMatchObject({
        jobId,
        state: "failed",
        reasonCode: "dead_lettered",
        reasonDetail: "exhausted 3 deliveries",
        attempts: 3,
        finishedAt: expect.any(String),
      });
      expect(await jobs.recordDeadLetter(letter)).toBeUndefined();
      const letters = await jobs.listDeadLetters();
      // The stale advisory's letter is kept (it names a message the bus dead-lettered); the replay adds none.
      expect(letters.items).toEqual([
        {
          jobId,
          component: "echo",
          deliveries: 3,
          reasonCode: "dead_lettered",
          reasonDetail: "exhausted 3 deliveries",
          deadLetteredAt: expect.any(String),
          redrivenAt: null,
        },
        expect.objectContaining({ jobId, deliveries: 3, redrivenAt: null }),
      ]);
      expect(await jobs.deadLetteredJobIds("echo")).toEqual([jobId]);
      expect(await jobs.deadLetteredJobIds("other")).toEqual([]);

      const redriven = await jobs.redrive(jobId);
      expect(redriven).toMatchObject({
        kind: "redriven",
        job: {
          jobId,
          state: "pending",
          redrives: 1,
          reasonCode: null,
          reasonDetail: null,
          output: null,
          finishedAt: null,
          attempts: 3,
          dispatches: 1,
        },
      });
      expect((await jobs.nextOutboxBatch(10, [], false, ["echo"])).map((e) => e.dedupKey)).toEqual([
        `${jobId}:redrive:1`,
      ]);
      expect((await jobs.listDeadLetters()).items.every((d) => d.redrivenAt !== null)).toBe(true);
      expect(await jobs.deadLetteredJobIds("echo")).toEqual([]);
      expect(await jobs.redrive(jobId)).toMatchObject({ kind: "not_failed", job: { state: "pending" } });
      expect(await jobs.redrive("missing")).toEqual({ kind: "not_found" });
    });

    it("counts a Result older than the redrive as late, within the clock tolerance as the redriven run's", async () => {
      const { jobs } = await backend.open();
      const { jobId } = await queued(jobs, 1);
      await jobs.applyResult(result(jobId, "echo", { status: "failed", reason_code: "boom" }));
      await jobs.redrive(jobId);
      const tenSecondsAgo = new Date(Date.now() - 10_000).toISOString();
      expect((await jobs.applyResult(result(jobId, "echo", { finished_at: tenSecondsAgo }))).kind).toBe("duplicate");
      const hooked: string[] = [];
      expect(
        (
          await jobs.applyResult(
            result(jobId, "echo", { finished_at: tenSecondsAgo }),
            async (j) => void hooked.push(j.jobId),
          )
        ).kind,
      ).toBe("duplicate");
      expect(hooked).toEqual([]);
      // A worker clock 3 s behind the store's: its Result is the redriven run's own.
      const skewed = new Date(Date.now() - 3_000).toISOString();
      expect((await jobs.applyResult(result(jobId, "echo", { finished_at: skewed }))).kind).toBe("applied");
      expect(await jobs.getJob(jobId)).toMatchObject({ state: "completed", duplicateResults: 2, redrives: 1 });
    });
  });

  describe("cancel", () => {
    it("cancels a pending or queued job, clears its outbox row, and counts a later Result as late", async () => {
      const { jobs } = await backend.open();
      const pending = await submit(jobs);
      const running = await queued(jobs, 42);
      expect(await jobs.cancel(pending.jobId)).toMatchObject({
        kind: "cancelled",
        wasQueued: false,
        streamSeq: null,
        job: { state: "cancelled", reasonCode: "cancelled", finishedAt: expect.any(String) },
      });
      expect(await jobs.cancel(running.jobId)).toMatchObject({ kind: "cancelled", wasQueued: true, streamSeq: 42 });
      expect(await jobs.nextOutboxBatch(10, [], false, ["echo"])).toEqual([]);
      expect(await jobs.cancel(pending.jobId)).toMatchObject({ kind: "already_finished", job: { state: "cancelled" } });
      expect(await jobs.cancel("missing")).toEqual({ kind: "not_found" });
      expect((await jobs.applyResult(result(running.jobId, "echo"))).kind).toBe("duplicate");
      expect(
        await jobs.recordDeadLetter({
          jobId: running.jobId,
          component: "echo",
          streamSeq: 42,
          deliveries: 3,
          reasonCode: "dead_lettered",
          reasonDetail: "x",
        }),
      ).toBeUndefined();
      expect(await jobs.getJob(running.jobId)).toMatchObject({ state: "cancelled", duplicateResults: 1 });
    });
  });

  describe("listings", () => {
    it("pages jobs newest first with filters, and cursors that keep the filter's order", async () => {
      const { jobs } = await backend.open();
      const made: { jobId: string; component: string; key: string | null }[] = [];
      for (let i = 0; i < 7; i++) {
        const component = i % 3 === 0 ? "other" : "echo";
        const key = i % 2 === 0 ? "t1" : null;
        made.push({ ...(await submit(jobs, component, { limitKey: key })), component, key });
      }
      await jobs.cancel(made[1]?.jobId as string);
      const newest = [...made].reverse();
      const walk = async (filter: Parameters<JobStorage["listJobs"]>[0], limit: number): Promise<string[][]> => {
        const pages: string[][] = [];
        let cursor: string | undefined;
        do {
          const page = await jobs.listJobs({ ...filter, limit, ...(cursor !== undefined ? { cursor } : {}) });
          pages.push(page.items.map((j) => j.jobId));
          cursor = page.nextCursor ?? undefined;
        } while (cursor !== undefined);
        return pages;
      };
      const idsOf = (keep: (j: (typeof made)[number]) => boolean): string[] => newest.filter(keep).map((j) => j.jobId);
      expect(await walk({}, 3)).toEqual([
        idsOf(() => true).slice(0, 3),
        idsOf(() => true).slice(3, 6),
        idsOf(() => true).slice(6),
      ]);
      expect((await walk({}, 7)).length).toBe(1);
      expect((await walk({ component: "echo" }, 2)).flat()).toEqual(idsOf((j) => j.component === "echo"));
      expect((await walk({ key: "t1" }, 2)).flat()).toEqual(idsOf((j) => j.key === "t1"));
      expect((await walk({ component: "echo", state: "pending" }, 10)).flat()).toEqual(
        idsOf((j) => j.component === "echo" && j.jobId !== made[1]?.jobId),
      );
      expect((await walk({ state: "cancelled" }, 10)).flat()).toEqual([made[1]?.jobId]);
      expect(await jobs.listJobs({ component: "nobody" })).toEqual({ items: [], nextCursor: null });
      // A cursor taken from one filter continues where that page stopped under another.
      const first = await jobs.listJobs({ limit: 2 });
      expect(
        (await jobs.listJobs({ cursor: first.nextCursor as string, component: "other" })).items.map((j) => j.jobId),
      ).toEqual(idsOf((j) => j.component === "other").filter((id) => !first.items.some((f) => f.jobId === id)));
      expect((await jobs.listJobs()).items).toHaveLength(7);
    });

    it("refuses a bad limit, state or cursor naming the field, the limit first", async () => {
      const { jobs } = await backend.open();
      await expect(jobs.listJobs({ limit: 0, state: "done" as never })).rejects.toMatchObject({
        code: "invalid_request",
        issues: [{ path: "limit" }],
      });
      await expect(jobs.listJobs({ limit: 501 })).rejects.toMatchObject({ issues: [{ path: "limit" }] });
      await expect(jobs.listJobs({ state: "done" as never, cursor: "garbage" })).rejects.toMatchObject({
        issues: [{ path: "state" }],
      });
      await expect(jobs.listJobs({ cursor: "garbage" })).rejects.toMatchObject({ issues: [{ path: "cursor" }] });
      await expect(jobs.listJobs({ cursor: Buffer.from("a:5").toString("base64url") })).rejects.toMatchObject({
        issues: [{ path: "cursor" }],
      });
      await expect(jobs.listDeadLetters({ limit: 1.5 })).rejects.toMatchObject({ issues: [{ path: "limit" }] });
      await expect(jobs.listDeadLetters({ cursor: "x" })).rejects.toMatchObject({ issues: [{ path: "cursor" }] });
    });

    it("pages dead letters newest first, by component", async () => {
      const { jobs } = await backend.open();
      const letters: string[] = [];
      for (let i = 1; i <= 5; i++) {
        const component = i === 3 ? "other" : "echo";
        const { jobId } = await queued(jobs, i, component);
        await jobs.recordDeadLetter({
          jobId,
          component,
          streamSeq: i,
          deliveries: 1,
          reasonCode: "dead_lettered",
          reasonDetail: `#${i}`,
        });
        letters.push(`#${i}`);
      }
      const first = await jobs.listDeadLetters({ component: "echo", limit: 3 });
      expect(first.items.map((d) => d.reasonDetail)).toEqual(["#5", "#4", "#2"]);
      const second = await jobs.listDeadLetters({ component: "echo", limit: 3, cursor: first.nextCursor as string });
      expect(second).toMatchObject({ items: [{ reasonDetail: "#1" }], nextCursor: null });
      expect((await jobs.listDeadLetters()).items.map((d) => d.reasonDetail)).toEqual([...letters].reverse());
    });

    it("counts jobs by component and state", async () => {
      const { jobs } = await backend.open();
      expect(await jobs.countsByComponent()).toEqual(new Map());
      const done = await queued(jobs, 1);
      await jobs.applyResult(result(done.jobId, "echo"));
      await queued(jobs, 2);
      await submit(jobs);
      const cancelled = await submit(jobs, "other");
      await jobs.cancel(cancelled.jobId);
      const counts = await jobs.countsByComponent();
      expect(counts.get("echo")).toEqual({ pending: 1, queued: 1, completed: 1, failed: 0, cancelled: 0 });
      expect(counts.get("other")).toEqual({ pending: 0, queued: 0, completed: 0, failed: 0, cancelled: 1 });
      (counts.get("echo") as { pending: number }).pending = 100;
      expect((await jobs.countsByComponent()).get("echo")?.pending).toBe(1);
    });
  });

  describe("outcomes by revision", () => {
    it("splits recent Results by whether a canary instance produced them, leaving out old ones and other components", async () => {
      const { jobs } = await backend.open();
      const since = new Date(Date.now() - 60_000);
      const prefix = "echo.canary-";
      const none = { completed: 0, failed: 0 };
      expect(await jobs.outcomesByRevision("echo", prefix, since)).toEqual({ stable: none, canary: none });
      const outcomes: Array<[string, Partial<Result>]> = [
        ["echo-5d9c7-a", {}],
        ["echo-5d9c7-a", { status: "failed", reason_code: "boom" }],
        ["echo.canary-7f2b1-c", {}],
        ["echo.canary-7f2b1-c", { status: "failed", reason_code: "boom" }],
        ["echo.canary-7f2b1-d", { status: "failed", reason_code: "boom" }],
        // Before the window: not counted.
        ["echo.canary-7f2b1-c", { status: "failed", reason_code: "boom", finished_at: "2026-01-01T00:00:00Z" }],
      ];
      for (const [i, [instance, over]] of outcomes.entries()) {
        const { jobId } = await queued(jobs, i + 1);
        await jobs.applyResult(result(jobId, "echo", { instance_id: instance, ...over }));
      }
      // Another component's canary-looking instance, and a job still open.
      const other = await submit(jobs, "other");
      await jobs.applyResult(result(other.jobId, "other", { instance_id: "echo.canary-7f2b1-c" }));
      await submit(jobs);
      expect(await jobs.outcomesByRevision("echo", prefix, since)).toEqual({
        stable: { completed: 1, failed: 1 },
        canary: { completed: 1, failed: 2 },
      });
    });
  });

  describe("retention", () => {
    it("deletes decided jobs recorded before the cutoff, in bounded steps, and never an open or a younger one", async () => {
      const { jobs, sql } = await backend.open();
      const completed = await queued(jobs, 1);
      await jobs.applyResult(result(completed.jobId, "echo"));
      const failed = await queued(jobs, 2);
      await jobs.applyResult(result(failed.jobId, "echo", { status: "failed", reason_code: "boom" }));
      const cancelled = await submit(jobs);
      await jobs.cancel(cancelled.jobId);
      const pending = await submit(jobs);
      const running = await queued(jobs, 3);
      const decidedLate = await queued(jobs, 4);
      const other = await queued(jobs, 5, "other");
      await jobs.applyResult(result(other.jobId, "other"));
      // A decided job has no outbox row; were one left behind, the relay would publish a job that is gone.
      if (sql !== undefined)
        await sql.query(`INSERT INTO tessera_outbox (job_id, component, dedup_key) VALUES ($1, 'echo', 'stray')`, [
          completed.jobId,
        ]);
      await tick();
      const cutoff = new Date();
      await tick();
      // Created before the cutoff, decided after it: it stays.
      await jobs.applyResult(result(decidedLate.jobId, "echo"));
      const young = await queued(jobs, 6);
      await jobs.applyResult(result(young.jobId, "echo"));

      const steps = await prunePass(jobs, cutoff, 2);
      expect(total(steps)).toBe(4);
      expect(steps.length).toBeGreaterThan(1);
      expect(Math.max(...steps)).toBeLessThanOrEqual(2);
      for (const gone of [completed, failed, cancelled, other]) expect(await jobs.getJob(gone.jobId)).toBeUndefined();
      expect(await jobs.getJob(pending.jobId)).toMatchObject({ state: "pending" });
      expect(await jobs.getJob(running.jobId)).toMatchObject({ state: "queued" });
      expect(await jobs.getJob(decidedLate.jobId)).toMatchObject({ state: "completed" });
      expect(await jobs.getJob(young.jobId)).toMatchObject({ state: "completed" });
      expect(await jobs.countsByComponent()).toEqual(
        new Map([["echo", { pending: 1, queued: 1, completed: 2, failed: 0, cancelled: 0 }]]),
      );
      expect((await jobs.nextOutboxBatch(10, [], false, ["echo", "other"])).map((e) => e.jobId)).toEqual([
        pending.jobId,
      ]);
      expect(total(await prunePass(jobs, cutoff))).toBe(0);
      // The next pass, with a later cutoff, takes what has aged since.
      await tick();
      expect(total(await prunePass(jobs, new Date()))).toBe(2);
      expect(await jobs.countsByComponent()).toEqual(
        new Map([["echo", { pending: 1, queued: 1, completed: 0, failed: 0, cancelled: 0 }]]),
      );
    });

    it("keeps a job in the DLQ until it is redriven, and deletes dead letters with their job", async () => {
      const { jobs } = await backend.open();
      const inDlq = await queued(jobs, 7);
      await jobs.recordDeadLetter({
        jobId: inDlq.jobId,
        component: "echo",
        streamSeq: 7,
        deliveries: 3,
        reasonCode: "dead_lettered",
        reasonDetail: "exhausted",
      });
      // A letter that came after a Result decided its job: that job cannot be redriven, so it is not kept for one.
      const done = await queued(jobs, 8);
      await jobs.applyResult(result(done.jobId, "echo"));
      expect(
        await jobs.recordDeadLetter({
          jobId: done.jobId,
          component: "echo",
          streamSeq: 8,
          deliveries: 3,
          reasonCode: "dead_lettered",
          reasonDetail: "late",
        }),
      ).toBeUndefined();
      await tick();
      expect(total(await prunePass(jobs, new Date()))).toBe(1);
      expect(await jobs.getJob(done.jobId)).toBeUndefined();
      expect(await jobs.getJob(inDlq.jobId)).toMatchObject({ state: "failed", reasonCode: "dead_lettered" });
      expect((await jobs.listDeadLetters()).items.map((d) => d.reasonDetail)).toEqual(["exhausted"]);
      expect(await jobs.deadLetteredJobIds("echo")).toEqual([inDlq.jobId]);

      // Redriven and decided again, it ages like any decided job, and its (redriven) letter goes with it.
      expect(await jobs.redrive(inDlq.jobId)).toMatchObject({ kind: "redriven" });
      const [entry] = await jobs.nextOutboxBatch(10, [], false, ["echo"]);
      await jobs.markDispatched([{ outboxId: entry?.id as number, jobId: inDlq.jobId, streamSeq: 9 }]);
      await tick();
      const beforeDecided = new Date();
      await tick();
      await jobs.applyResult(result(inDlq.jobId, "echo"));
      await tick();
      expect(total(await prunePass(jobs, beforeDecided))).toBe(0);
      expect(total(await prunePass(jobs, new Date()))).toBe(1);
      expect(await jobs.getJob(inDlq.jobId)).toBeUndefined();
      expect(await jobs.listDeadLetters()).toEqual({ items: [], nextCursor: null });
      expect(await jobs.deadLetteredJobIds("echo")).toEqual([]);
      expect(await jobs.countsByComponent()).toEqual(new Map());
    });

    it("frees a deleted job's idempotency key: a submit with it creates a new job", async () => {
      const { jobs } = await backend.open();
      const first = await submit(jobs, "echo", { idempotencyKey: "order-7" });
      const kept = await submit(jobs, "echo", { idempotencyKey: "order-8" });
      await jobs.cancel(first.jobId);
      await tick();
      expect(total(await prunePass(jobs, new Date()))).toBe(1);
      expect(await jobs.findByIdempotencyKey("echo", "order-7")).toBeUndefined();
      expect((await jobs.findByIdempotencyKey("echo", "order-8"))?.jobId).toBe(kept.jobId);
      const again = await jobs.insertJob({ envelope: envelope("echo"), limitKey: null, idempotencyKey: "order-7" });
      expect(again.created).toBe(true);
      expect(again.job.jobId).not.toBe(first.jobId);
      expect((await jobs.findByIdempotencyKey("echo", "order-7"))?.jobId).toBe(again.job.jobId);
    });

    it("pages what is left with cursors taken before the pass", async () => {
      const { jobs } = await backend.open();
      const made: { jobId: string; component: string }[] = [];
      for (let i = 0; i < 9; i++) {
        const component = i % 2 === 0 ? "echo" : "other";
        made.push({ ...(await submit(jobs, component)), component });
      }
      const decided = [0, 3, 6, 7].map((i) => made[i] as (typeof made)[number]);
      for (const job of decided) await jobs.cancel(job.jobId);
      const firstPage = await jobs.listJobs({ limit: 3 });
      const firstEcho = await jobs.listJobs({ component: "echo", limit: 2 });
      await tick();
      expect(total(await prunePass(jobs, new Date()))).toBe(4);
      const left = [...made].reverse().filter((j) => !decided.includes(j));
      const rest = async (cursor: string | null, filter: { component?: string } = {}): Promise<string[]> => {
        const out: string[] = [];
        while (cursor !== null) {
          const page = await jobs.listJobs({ ...filter, limit: 2, cursor });
          out.push(...page.items.map((j) => j.jobId));
          cursor = page.nextCursor;
        }
        return out;
      };
      const beforeCursor = (page: { items: { jobId: string }[] }, jobsLeft: typeof made): string[] => {
        const last = page.items.at(-1)?.jobId;
        return jobsLeft
          .slice(jobsLeft.findIndex((j) => made.indexOf(j) < made.findIndex((m) => m.jobId === last)))
          .map((j) => j.jobId);
      };
      expect(await rest(firstPage.nextCursor)).toEqual(beforeCursor(firstPage, left));
      expect(await rest(firstEcho.nextCursor, { component: "echo" })).toEqual(
        beforeCursor(
          firstEcho,
          left.filter((j) => j.component === "echo"),
        ),
      );
      expect((await jobs.listJobs()).items.map((j) => j.jobId)).toEqual(left.map((j) => j.jobId));
      expect(await jobs.listJobs({ state: "cancelled" })).toEqual({ items: [], nextCursor: null });
      expect(await jobs.countsByComponent()).toEqual(
        new Map([
          ["echo", { pending: 3, queued: 0, completed: 0, failed: 0, cancelled: 0 }],
          ["other", { pending: 2, queued: 0, completed: 0, failed: 0, cancelled: 0 }],
        ]),
      );
    });
  });

  it("keeps settings as JSON values, the last write winning", async () => {
    const { jobs, settings } = await backend.open();
    expect(await settings.readSettings()).toEqual(new Map());
    await settings.writeSetting("relay.batchSize", 10);
    await settings.writeSetting("limits.echo", { key: "tenant", concurrency: 2 });
    await settings.writeSetting("relay.batchSize", 20);
    await settings.writeSetting("embedding.model", null);
    expect(await settings.readSettings()).toEqual(
      new Map<string, unknown>([
        ["relay.batchSize", 20],
        ["limits.echo", { key: "tenant", concurrency: 2 }],
        ["embedding.model", null],
      ]),
    );
    await expect(settings.writeSetting("x", { bad: "\u0000" })).rejects.toMatchObject({ code: "22P05" });
    expect(await jobs.ping()).toBe(true);
  });

  it("keeps an audit log newest first, by job, with cursors, its texts bounded", async () => {
    const { audit } = await backend.open();
    const entry = (n: number, jobIds: string[]): AuditRecord => ({
      action: "job.cancel",
      target: `t${n}`,
      jobIds,
      actor: { remoteAddress: "127.0.0.1", token: false, userAgent: n === 1 ? `x${"y".repeat(2_000)}\u0000` : null },
      outcome: "ok",
      status: 200,
      detail: null,
    });
    const first = await audit.record(entry(1, ["j1"]));
    expect(first).toMatchObject({
      id: expect.any(Number),
      at: expect.any(String),
      action: "job.cancel",
      target: "t1",
      jobIds: ["j1"],
      outcome: "ok",
      status: 200,
      detail: null,
    });
    expect(first.actor.userAgent).toHaveLength(1_024);
    expect(first.actor.userAgent?.endsWith("…")).toBe(true);
    await audit.record(entry(2, ["j1", "j2"]));
    await audit.record(entry(3, []));
    const page = await audit.list({ limit: 2 });
    expect(page.items.map((e) => e.target)).toEqual(["t3", "t2"]);
    expect((await audit.list({ limit: 2, cursor: page.nextCursor as string })).items.map((e) => e.target)).toEqual([
      "t1",
    ]);
    expect((await audit.list({ jobId: "j1" })).items.map((e) => e.target)).toEqual(["t2", "t1"]);
    await expect(audit.list({ limit: 0 })).rejects.toMatchObject({ issues: [{ path: "limit" }] });
    await expect(audit.list({ cursor: Buffer.from("p:1").toString("base64url") })).rejects.toMatchObject({
      issues: [{ path: "cursor" }],
    });
  });
});
