/**
 * The short fault run of the replicas topology, part of `npm test`: 600 jobs through three coordinator
 * processes on one Postgres, with per-key concurrency and rate limits, while coordinators (the lease holder
 * among them, and at the relay's kill points), workers and nats-server are SIGKILLed and every coordinator is
 * restarted in turn under load. The long run is `npm run faults -- --coordinators 3` (docs/reliability.md).
 */
import { describe, expect, it } from "vitest";
import { runFaults } from "../src/driver.js";
import { reportTable } from "../src/report.js";
import { emptyKillCounts } from "../src/schedule.js";

const seed = Number(process.env["FAULTS_SEED"] ?? "20261206");
const limits = { key: "tenant", concurrency: 2, rate: { limit: 3, intervalMs: 1_000 } };

describe("fault injection, three coordinators (short run)", () => {
  it("loses no job, completes none twice and keeps every key within its limits", { timeout: 180_000 }, async () => {
    const lines: string[] = [];
    const report = await runFaults({
      jobs: 600,
      seed,
      coordinators: 3,
      limits,
      tenants: 20,
      kills: {
        ...emptyKillCounts(),
        worker: 2,
        midHandler: 2,
        coordinator: 2,
        leaseHolder: 1,
        commitBeforePublish: 2,
        publishBeforeMark: 1,
        nats: 1,
        rollingRestart: 1,
      },
      coordinatorAckWaitMs: 3_000,
      timeoutMs: 150_000,
      log: (line) => lines.push(line),
    });
    const table = reportTable(report);
    process.stdout.write(`\nfault run, 3 coordinators (seed ${seed}):\n${table}\n`);
    const context = `${table}\n${lines.join("\n")}`;
    expect(report.verdict.problems, context).toEqual([]);
    expect(report, context).toMatchObject({
      lost: 0,
      duplicateCompleted: 0,
      sideEffectsAppliedTwice: 0,
      timedOut: false,
    });
    expect(report.verdict, context).toMatchObject({ completed: 600, duplicateSubmits: 0, unexpectedJobs: 0 });
    expect(report.limits, context).toMatchObject({ keys: 20, keysWithOpenJobs: 0, ok: true });
    expect(report.limits?.peakConcurrency, context).toBeLessThanOrEqual(2);
    expect(report.limits?.worstRateRatio, context).toBeLessThanOrEqual(1);
    // The kills that do not depend on timing were all made, the rolling restart among them.
    for (const kind of ["worker", "coordinator", "leaseHolder", "nats", "rollingRestart"] as const)
      expect(report.kills[kind], `${kind}\n${context}`).toBe(1 + Number(kind === "worker" || kind === "coordinator"));
    expect(report.restarts.coordinator, context).toBeGreaterThanOrEqual(3 + 3);
  });
});
