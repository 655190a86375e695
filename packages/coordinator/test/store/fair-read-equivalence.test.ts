import { randomUUID } from "node:crypto";
import type { Job } from "@tessera/contract";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { KEY_SEPARATOR, type JobStorage } from "../../src/store/job-storage.js";
import { skipping, storeBackends } from "../store-backends.js";

/**
 * The memory store's fair outbox read merges per-key queues; the SQL store ranks with a window function.
 * The same outbox, read with random limits, blocked keys, components and skipped rows, must give the same
 * rows in the same order on both.
 */
const COMPONENTS = ["echo", "other"];
const KEYS = [null, "", "a", "b", "c"];

describe("fair outbox reads, memory store against PGlite", () => {
  it("pick the same rows in the same order", async () => {
    const backends = storeBackends().filter((b) => b.name === "pglite" || b.name === "memory");
    const stores = await Promise.all(backends.map(async (b) => (await b.open()).jobs));
    const draw = fc.sample(fc.tuple(fc.constantFrom(...COMPONENTS), fc.constantFrom(...KEYS), fc.boolean()), {
      numRuns: 240,
      seed: 16,
    });
    const outboxIds: number[] = [];
    for (const [component, limitKey, published] of draw) {
      const job = {
        schema_version: 1,
        job_id: randomUUID(),
        component,
        content_type: "application/json",
        limits: { max_bytes: 1024, wall_clock: 1000 },
        input: { inline: null },
      } as Job;
      const ids = await Promise.all(
        stores.map(
          async (s) => (await s.insertJob({ envelope: job, limitKey, idempotencyKey: null })).outboxId as number,
        ),
      );
      expect(new Set(ids).size).toBe(1);
      // Some rows are recorded as published (deleted), leaving holes in the keys' queues.
      if (published)
        for (const s of stores)
          await s.markDispatched([{ outboxId: ids[0] as number, jobId: job.job_id, streamSeq: ids[0] as number }]);
      else outboxIds.push(ids[0] as number);
    }
    const blockedKey = (c: string, k: string | null): string => c + KEY_SEPARATOR + (k ?? "");
    const queries = fc.sample(
      fc.record({
        batch: fc.integer({ min: 1, max: 40 }),
        blocked: fc.subarray(COMPONENTS.flatMap((c) => KEYS.map((k) => blockedKey(c, k)))),
        components: fc.subarray(COMPONENTS, { minLength: 1 }),
        skip: fc.subarray(outboxIds),
      }),
      { numRuns: 150, seed: 17 },
    );
    for (const q of queries) {
      const reads = await Promise.all(
        stores.map((s: JobStorage) => s.nextOutboxBatch(q.batch, q.blocked, true, q.components, skipping(q.skip))),
      );
      const [sql, memory] = reads.map((r) => r.map((e) => e.id));
      expect(memory, JSON.stringify(q)).toEqual(sql);
    }
  });
});
