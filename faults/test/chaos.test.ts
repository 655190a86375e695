/**
 * The short fault run, part of `npm test`: 600 jobs through process mode (a coordinator process, three
 * worker processes, a real nats-server and Postgres) while 14 SIGKILLs of every kind land on them. The long
 * run is `npm run faults` (docs/reliability.md). FAULTS_SEED picks another schedule.
 */
import { describe, expect, it } from "vitest";
import { runFaults } from "../src/driver.js";
import { reportTable } from "../src/report.js";
import { emptyKillCounts } from "../src/schedule.js";

const seed = Number(process.env["FAULTS_SEED"] ?? "20261123");

describe("fault injection (short run)", () => {
  it(
    "loses no job and completes none twice while workers, the coordinator and nats-server are SIGKILLed",
    { timeout: 150_000 },
    async () => {
      const lines: string[] = [];
      const report = await runFaults({
        jobs: 600,
        seed,
        kills: {
          ...emptyKillCounts(),
          worker: 3,
          midHandler: 4,
          coordinator: 2,
          commitBeforePublish: 2,
          publishBeforeMark: 1,
          nats: 2,
        },
        // Results a killed coordinator held come back after 3 s instead of the product's 30 s.
        coordinatorAckWaitMs: 3_000,
        timeoutMs: 120_000,
        log: (line) => lines.push(line),
      });
      const table = reportTable(report);
      process.stdout.write(`\nfault run (seed ${seed}):\n${table}\n`);
      const context = `${table}\n${lines.join("\n")}`;
      // Every planned kill was made, except one at a point nothing could pass any more: a fast stretch of the
      // run (jobs run in a burst after a coordinator restart) can finish the work before the schedule arms it.
      const madeOrUnreachable = Object.fromEntries(
        Object.entries(report.kills).map(([kind, n]) => [
          kind,
          n + report.unreachable[kind as keyof typeof report.unreachable],
        ]),
      );
      expect(madeOrUnreachable, context).toEqual(report.planned);
      // ... and every kind of kill planned was made at least once.
      for (const [kind, n] of Object.entries(report.kills))
        if (report.planned[kind as keyof typeof report.planned] > 0)
          expect(n, `${kind} kills\n${context}`).toBeGreaterThanOrEqual(1);
      expect(report.verdict.problems, context).toEqual([]);
      expect(report, context).toMatchObject({
        lost: 0,
        duplicateCompleted: 0,
        sideEffectsAppliedTwice: 0,
        timedOut: false,
      });
      expect(report.verdict, context).toMatchObject({
        completed: 600,
        sideEffectsMissing: 0,
        duplicateSubmits: 0,
        unexpectedJobs: 0,
      });
      // The kills did bite: the submitter had to retry while the coordinator was down, and handlers killed
      // after their side effect ran again (the idempotent effect skipped the second time).
      expect(report.submit.retries, context).toBeGreaterThan(0);
      expect(report.restarts.coordinator, context).toBeGreaterThanOrEqual(5);
    },
  );
});
