import { randomUUID } from "node:crypto";
import type { Job, Result } from "@tessera/contract";
import { describe, expect, it } from "vitest";
import { migrate } from "../../src/sql/migrate.js";
import type { SqlClient } from "../../src/sql/sql-client.js";
import { SqlJobStore } from "../../src/store/sql-job-store.js";
import type { MaintenanceThresholds } from "../../src/store/pglite-maintenance.js";
import { MIGRATIONS } from "../../src/store/migrations.js";
import { sqlBackends } from "../sql-backends.js";

const [pglite, postgres] = sqlBackends();
const JOBS = 4_000;
const BATCH = 250;

/** Jobs through the store as the coordinator drives them: submitted, dispatched, completed. */
async function runJobs(store: SqlJobStore): Promise<void> {
  for (let done = 0; done < JOBS; done += BATCH) {
    const ids = Array.from({ length: BATCH }, () => randomUUID());
    const inserted = await Promise.all(
      ids.map((id) =>
        store.insertJob({
          envelope: { job_id: id, component: "c" } as unknown as Job,
          limitKey: null,
          idempotencyKey: null,
        }),
      ),
    );
    await store.markDispatched(
      inserted.map((x, i) => ({ outboxId: x.outboxId as number, jobId: ids[i] as string, streamSeq: done + i + 1 })),
    );
    const finished_at = new Date().toISOString();
    await Promise.all(
      ids.map((id) =>
        store.applyResult({
          schema_version: 1,
          job_id: id,
          component: "c",
          status: "completed",
          attempt: 1,
          instance_id: "w",
          duration_ms: 1,
          finished_at,
        } as Result),
      ),
    );
  }
}

async function storeOn(db: SqlClient, maintenance: MaintenanceThresholds): Promise<SqlJobStore> {
  await migrate(db, MIGRATIONS);
  return new SqlJobStore(db, {
    maintenance,
    onMaintenanceError: (err) => expect.fail(`maintenance failed: ${String(err)}`),
  });
}

const NEVER: MaintenanceThresholds = { outboxEvery: Infinity, jobsMin: Infinity, checkpointEvery: Infinity };
const OFTEN: MaintenanceThresholds = { outboxEvery: 1, jobsMin: 1, checkpointEvery: 1 };

/**
 * Bytes of the outbox and of the job table, and of WAL written since the last checkpoint: the WAL a
 * checkpoint lets Postgres recycle (the segments themselves are recycled only past min_wal_size, 80 MB,
 * more than a test writes).
 */
const sizes = async (db: SqlClient): Promise<{ outbox: number; jobs: number; walSinceCheckpoint: number }> =>
  (
    await db.query<{ outbox: number; jobs: number; walSinceCheckpoint: number }>(
      `SELECT pg_total_relation_size('tessera_outbox')::int8 AS outbox, pg_total_relation_size('tessera_jobs')::int8 AS jobs,
              (pg_current_wal_lsn() - (pg_control_checkpoint()).redo_lsn)::int8 AS "walSinceCheckpoint"`,
    )
  ).rows[0]!;

describe("the store's maintenance on PGlite (which has no autovacuum and no checkpointer)", () => {
  it("keeps the outbox small, the job table compact and recycles the WAL", { timeout: 120_000 }, async () => {
    const never = await storeOn(await pglite!.open(), NEVER);
    await runJobs(never);
    await never.stopMaintenance();
    expect(never.maintenanceRuns).toEqual({ outboxVacuums: 0, jobVacuums: 0, checkpoints: 0 });
    const without = await sizes(never.sql);

    const store = await storeOn(await pglite!.open(), {
      outboxEvery: 500,
      jobsMin: 1_000,
      jobsScale: 0.2,
      checkpointEvery: 1_000,
    });
    await runJobs(store);
    await store.stopMaintenance();
    const runs = store.maintenanceRuns!;
    expect(runs.outboxVacuums).toBeGreaterThanOrEqual(4);
    expect(runs.jobVacuums).toBeGreaterThanOrEqual(2);
    expect(runs.checkpoints).toBeGreaterThanOrEqual(2);
    const maintained = await sizes(store.sql);
    // Every outbox row is deleted once dispatched: vacuumed, the table holds a few batches' worth of space.
    expect(maintained.outbox).toBeLessThan(without.outbox / 3);
    // A job's three row versions share its page and are pruned there (heap-only updates, migration 2): the
    // job table stays compact with or without the vacuum, where it once held every old version (about
    // 1,200 bytes a job here) until vacuumed.
    expect(without.jobs).toBeLessThan(JOBS * 900);
    expect(maintained.jobs).toBeLessThanOrEqual(without.jobs * 1.05);
    expect(maintained.walSinceCheckpoint).toBeLessThan(without.walSinceCheckpoint / 4);
    // Nothing lost to it: every job is there, completed.
    const { rows } = await store.sql.query<{ state: string; n: number }>(
      "SELECT state, count(*)::int8 AS n FROM tessera_jobs GROUP BY state",
    );
    expect(rows).toEqual([{ state: "completed", n: JOBS }]);
  });

  it("leaves Postgres to its own autovacuum and checkpointer", async () => {
    const store = await storeOn(await postgres!.open(), OFTEN);
    await runJobs(store);
    expect(store.maintenanceRuns).toBeUndefined();
  });

  it("starts nothing once stopped", async () => {
    const store = await storeOn(await pglite!.open(), OFTEN);
    await store.stopMaintenance();
    await runJobs(store);
    expect(store.maintenanceRuns).toEqual({ outboxVacuums: 0, jobVacuums: 0, checkpoints: 0 });
  });
});
