/**
 * `tessera backup` and `tessera restore` as an operator runs them, on a real Postgres and nats-server: the
 * manifest, the refusals and their exit codes, the report's table and JSON. The drill itself (jobs
 * finishing around the backup point) is packages/coordinator/test/process/restore-drill.test.ts.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connectJetStreamBus } from "@tessera/bus";
import { createCoordinator, openSqlClient, type BackupManifest, type RestoreReport } from "@tessera/coordinator";
import { startNatsServer, startPostgres, waitFor, type NatsServerHandle, type PostgresHandle } from "@tessera/testkit";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spec } from "./helpers/real-coordinator.js";
import { runTessera } from "./helpers/run-tessera.js";

let pg: PostgresHandle;
let nats: NatsServerHandle;
let dir: string;

beforeAll(async () => {
  [pg, nats] = await Promise.all([startPostgres(), startNatsServer()]);
  dir = await mkdtemp(join(tmpdir(), "tessera-backup-cli-"));
}, 60_000);
afterAll(async () => {
  await Promise.allSettled([pg?.stop(), nats?.stop(), rm(dir, { recursive: true, force: true })]);
});

describe("tessera backup / restore", () => {
  it("backs up with a manifest, refuses what it must with exit 2, restores and lists the jobs lost", async () => {
    const source = await pg.createDatabase();
    const bus = await connectJetStreamBus({ servers: nats.url, name: "cli-backup-coordinator" });
    const coordinator = await createCoordinator({
      bus,
      env: {},
      logger: pino({ level: "silent" }),
      database: { url: source },
      components: [{ name: "backup-cli", spec: spec() }],
    });
    // No worker: the jobs are queued, their messages wait in the stream.
    const before: string[] = [];
    for (let i = 0; i < 3; i++) before.push((await coordinator.submit("backup-cli", { json: { i } })).jobId);
    await waitFor("the jobs to be queued", async () => (await coordinator.getJob(before[2] ?? ""))?.state === "queued");

    const out = join(dir, "b1");
    const backup = await runTessera(["backup", "--database", source, "--out", out, "--json"]);
    expect(backup.code, backup.stderr).toBe(0);
    const manifest = JSON.parse(backup.stdout) as BackupManifest;
    expect(manifest).toMatchObject({
      format: "tessera-backup/1",
      dump_file: "tessera.dump",
      components: ["backup-cli"],
    });
    expect(manifest.jobs).toEqual({ pending: 0, queued: 3, completed: 0, failed: 0, cancelled: 0 });

    const after = (await coordinator.submit("backup-cli", { json: { late: true } })).jobId;
    await coordinator.close();
    // After the backup point the bus loses one job's message (no Result: it is sent again) and another job
    // is dead-lettered (recorded so), as the dead-letter flow would: publish to the DLQ, delete the source.
    const seqOf = new Map((await bus.inventory(["backup-cli"])).stored.map((s) => [s.jobId, s.streamSeq]));
    const [lostMessage, deadLettered] = [before[0] ?? "", before[1] ?? ""];
    await bus.removeJob("backup-cli", seqOf.get(lostMessage) ?? 0);
    await bus.publishDeadLetter({
      component: "backup-cli",
      jobId: deadLettered,
      streamSeq: seqOf.get(deadLettered),
      deliveries: 3,
      reasonCode: "handler_error",
      reasonDetail: "boom",
      data: new Uint8Array(),
      deadLetteredAt: new Date().toISOString(),
    });
    await bus.removeJob("backup-cli", seqOf.get(deadLettered) ?? 0);
    await bus.close();

    const again = await runTessera(["backup", "--database", source, "--out", out]);
    expect([again.code, again.stderr]).toEqual([2, expect.stringContaining("is not empty")]);
    const overLive = await runTessera(["restore", out, "--database", source, "--nats", nats.url]);
    expect([overLive.code, overLive.stderr]).toEqual([2, expect.stringContaining("is not empty")]);
    const notABackup = await runTessera(["restore", dir, "--database", await pg.createDatabase(), "--nats", nats.url]);
    expect([notABackup.code, notABackup.stderr]).toEqual([2, expect.stringContaining("is not a Tessera backup")]);
    const noBus = await runTessera(["restore", out, "--database", await pg.createDatabase()]);
    expect([noBus.code, noBus.stderr]).toEqual([2, expect.stringContaining("--nats")]);

    const table = await runTessera(["restore", out, "--database", await pg.createDatabase(), "--nats", nats.url]);
    expect(table.code, table.stderr).toBe(0);
    expect(table.stdout).toContain("3 jobs were pending or queued at the backup point");
    for (const [outcome, n] of [
      ["result_applied", 0],
      ["dead_lettered", 1],
      ["in_stream", 1],
      ["republished", 1],
    ])
      expect(table.stdout).toMatch(new RegExp(`${outcome}\\s+${n}\\n`));
    expect(table.stdout).toContain(after);
    expect(table.stderr).toContain("jobs were lost by the restore");

    const restored = await pg.createDatabase();
    const json = await runTessera(["restore", out, "--database", restored, "--nats", nats.url, "--json"]);
    const report = JSON.parse(json.stdout) as RestoreReport;
    expect(report.reconcile?.outcomes).toEqual({
      result_applied: 0,
      dead_lettered: 1,
      in_stream: 1,
      republished: 1,
      outbox: 0,
    });
    expect(report.reconcile?.lost).toEqual([{ job_id: after, component: "backup-cli", found_in: ["stream"] }]);
    // What a coordinator starting on it finds: the lost message owed again (a fresh dedup key), the dead letter.
    const sql = await openSqlClient({ databaseUrl: restored });
    try {
      const rows = await sql.query<{
        job_id: string;
        state: string;
        reason_code: string | null;
        dedup_key: string | null;
      }>(
        `SELECT j.job_id, j.state, j.reason_code, o.dedup_key FROM tessera_jobs j
           LEFT JOIN tessera_outbox o USING (job_id) WHERE j.job_id = ANY($1::text[]) ORDER BY j.job_id`,
        [[lostMessage, deadLettered]],
      );
      expect(rows.rows.find((r) => r.job_id === lostMessage)).toMatchObject({
        state: "pending",
        dedup_key: `${lostMessage}:restore:1`,
      });
      expect(rows.rows.find((r) => r.job_id === deadLettered)).toMatchObject({
        state: "failed",
        reason_code: "dead_lettered",
        dedup_key: null,
      });
    } finally {
      await sql.close();
    }
  }, 90_000);
});
