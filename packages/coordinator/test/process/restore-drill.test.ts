/**
 * The restore drill: jobs in flight, a backup, more work after it (jobs finish, new jobs are created), then
 * the backup restored into a fresh Postgres, reconciled with the bus and a coordinator started on it. Every
 * job open at the backup point must end decided, none decided before it may run again (handler runs are
 * counted per job id), and the report must list exactly the jobs created after the backup point.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { waitFor } from "@tessera/testkit";
import { defineComponent } from "@tessera/worker";
import { describe, expect, it } from "vitest";
import { takeBackup } from "../../src/restore/backup.js";
import { restoreBackup } from "../../src/restore/restore.js";
import { TERMINAL_STATES, type Coordinator, type JobState } from "../../src/types.js";
import { processSpec, processSuite } from "./support.js";

const suite = processSuite();

/** A gate a handler waits on until the test opens it. */
function gate(): { wait: Promise<void>; open: () => void } {
  let open = (): void => undefined;
  const wait = new Promise<void>((resolve) => (open = resolve));
  return { wait, open };
}

describe("backup and restore, drilled", () => {
  it("restored and reconciled: open jobs end decided, nothing decided runs again, jobs after the backup are listed", async () => {
    const started = Date.now();
    const component = suite.componentName("drill");
    const registration = {
      name: component,
      spec: processSpec({ timeouts: { wallClock: "60s", ackWait: "5s" } }),
      limits: { key: "tenant", concurrency: 1 },
    };
    const runs = new Map<string, number>();
    const gates = { beforeRestore: gate(), afterRestore: gate() };
    await suite.worker(
      defineComponent({
        isolation: "none",
        name: component,
        concurrency: 16,
        async handle(ctx) {
          runs.set(ctx.jobId, (runs.get(ctx.jobId) ?? 0) + 1);
          if (ctx.metadata.hold === "until-backup-done") await gates.beforeRestore.wait;
          if (ctx.metadata.hold === "until-restored") await gates.afterRestore.wait;
          return { ran: ctx.jobId };
        },
      }),
      await suite.bus("worker"),
    );

    const oldUrl = await suite.database();
    const old = await suite.coordinator({
      bus: await suite.bus("coordinator-old"),
      url: oldUrl,
      components: [registration],
      settingsFile: { "relay.pollIntervalMs": 200 },
    });
    const submit = async (c: Coordinator, tenant: string, hold?: string): Promise<string> =>
      (await c.submit(component, { json: { tenant } }, { metadata: { tenant, ...(hold ? { hold } : {}) } })).jobId;

    // Decided before the backup point: must never run again.
    const decidedBefore = await Promise.all(Array.from({ length: 8 }, (_, i) => submit(old, `done-${i}`)));
    await Promise.all(decidedBefore.map((id) => old.waitForJob(id, { timeoutMs: 20_000 })));
    // Queued at the backup point, finishing after it while the old coordinator still runs.
    const inFlight = await Promise.all(
      Array.from({ length: 4 }, (_, i) => submit(old, `busy-${i}`, "until-backup-done")),
    );
    // One key, one at a time: the first is queued, the two behind it pending; all finish after the backup.
    const held = [await submit(old, "held", "until-backup-done"), await submit(old, "held"), await submit(old, "held")];
    // The same, but the first runs until after the restore: the two behind it are still pending when it happens.
    const stuck = [
      await submit(old, "stuck", "until-restored"),
      await submit(old, "stuck"),
      await submit(old, "stuck"),
    ];
    await waitFor("the in-flight jobs to start", () => runs.size === 8 + 4 + 1 + 1, 20_000);

    const dir = await mkdtemp(join(tmpdir(), "tessera-backup-"));
    suite.defer(() => rm(dir, { recursive: true, force: true }));
    const backupStarted = Date.now();
    const manifest = await takeBackup({ databaseUrl: oldUrl, outDir: join(dir, "b1") });
    const backupMs = Date.now() - backupStarted;
    expect(manifest.jobs).toMatchObject({ completed: 8, queued: 4 + 1 + 1, pending: 2 + 2 });

    // After the backup point: the held jobs finish, new jobs are created and finish, one stays in flight.
    gates.beforeRestore.open();
    const createdAfter = await Promise.all(Array.from({ length: 5 }, (_, i) => submit(old, `after-${i}`)));
    const createdAfterInFlight = await submit(old, "after-busy", "until-restored");
    await Promise.all([...inFlight, ...held, ...createdAfter].map((id) => old.waitForJob(id, { timeoutMs: 20_000 })));
    await waitFor("the job created after the backup to start", () => runs.has(createdAfterInFlight), 20_000);
    await old.close(); // the old database is gone

    const newUrl = await suite.database();
    const restoreStarted = Date.now();
    const report = await restoreBackup({
      fromDir: join(dir, "b1"),
      databaseUrl: newUrl,
      bus: await suite.bus("restore"),
    });
    const restoreMs = Date.now() - restoreStarted;
    const reconcile = report.reconcile;
    expect(reconcile?.open_jobs).toBe(manifest.jobs.pending + manifest.jobs.queued);
    expect(reconcile?.outcomes).toEqual({
      result_applied: inFlight.length + held.length,
      dead_lettered: 0,
      in_stream: 1, // stuck[0], still running
      republished: 0,
      outbox: 2, // stuck[1..2], never published
    });
    expect(reconcile?.lost.map((l) => l.job_id).sort()).toEqual([...createdAfter, createdAfterInFlight].sort());
    expect(reconcile?.lost.find((l) => l.job_id === createdAfterInFlight)?.found_in).toEqual(["stream"]);

    const restored = await suite.coordinator({
      bus: await suite.bus("coordinator-restored"),
      url: newUrl,
      components: [registration],
      settingsFile: { "relay.pollIntervalMs": 200 },
    });
    gates.afterRestore.open();
    const openAtBackup = [...inFlight, ...held, ...stuck];
    const finalStates = await Promise.all(
      openAtBackup.map(async (id) => (await restored.waitForJob(id, { timeoutMs: 30_000 })).state),
    );
    expect(finalStates.every((s: JobState) => TERMINAL_STATES.includes(s))).toBe(true);
    expect(new Set(finalStates)).toEqual(new Set(["completed"]));
    for (const id of decidedBefore) expect((await restored.getJob(id))?.state).toBe("completed");
    // One run per job: nothing decided before the backup ran again, and nothing open at it ran twice.
    const repeated = [...runs].filter(([, n]) => n !== 1);
    expect(repeated).toEqual([]);
    for (const id of [...decidedBefore, ...openAtBackup]) expect(runs.get(id)).toBe(1);

    console.log(
      `restore drill: ${manifest.jobs.pending} pending + ${manifest.jobs.queued} queued at backup, ` +
        `${inFlight.length + held.length} completed after it, ${reconcile?.lost.length} lost and listed; ` +
        `backup ${backupMs} ms, restore + reconcile ${restoreMs} ms (reconcile ${reconcile?.duration_ms} ms), ` +
        `drill ${Date.now() - started} ms`,
    );
  }, 90_000);
});
