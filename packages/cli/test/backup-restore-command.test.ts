/**
 * `tessera backup` and `tessera restore` as an operator runs them, on a real Postgres and nats-server: the
 * manifest, the refusals and their exit codes, the report's table and JSON. The drill itself (jobs
 * finishing around the backup point) is packages/coordinator/test/process/restore-drill.test.ts.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connectJetStreamBus } from "@tessera/bus";
import { createCoordinator, type BackupManifest, type RestoreReport } from "@tessera/coordinator";
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
    expect(table.stdout).toMatch(/in_stream\s+3/);
    expect(table.stdout).toContain(after);
    expect(table.stderr).toContain("jobs were lost by the restore");

    const json = await runTessera([
      "restore",
      out,
      "--database",
      await pg.createDatabase(),
      "--nats",
      nats.url,
      "--json",
    ]);
    const report = JSON.parse(json.stdout) as RestoreReport;
    expect(report.reconcile?.outcomes).toMatchObject({ in_stream: 3, result_applied: 0, republished: 0 });
    expect(report.reconcile?.lost).toEqual([{ job_id: after, component: "backup-cli", found_in: ["stream"] }]);
  }, 90_000);
});
