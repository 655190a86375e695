import { createInProcessBus } from "@tessera/bus";
import { waitFor } from "@tessera/testkit";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { defineComponent, runWorker } from "../src/index.js";
import { makeJob } from "./helpers.js";

describe("the duplicate guard and redrive", () => {
  it("acks without running a job republished under its own id after it finished (a republish the bus did not deduplicate)", async () => {
    const bus = createInProcessBus();
    await bus.ensureComponent({ name: "republished", ackWaitMs: 5_000, maxDeliver: 5, duplicateWindowMs: 60_000 });
    const job = makeJob("republished");
    // Its Result is older than the message: a fresh first delivery, stored after the job had completed.
    await bus.publishResult({
      schema_version: 1,
      job_id: job.job_id,
      component: "republished",
      status: "completed",
      attempt: 1,
      finished_at: new Date(Date.now() - 60_000).toISOString(),
    });
    await bus.publishJob(job);
    let runs = 0;
    const worker = await runWorker(
      defineComponent({ isolation: "none", name: "republished", handle: () => void runs++ }),
      {
        bus,
        logger: pino({ level: "silent" }),
      },
    );
    try {
      await waitFor("the job to be acked", async () => (await bus.queueDepth("republished")).total === 0, 5_000);
      expect(runs).toBe(0);
    } finally {
      await worker.stop();
      await bus.close();
    }
  });

  it("runs a re-published job whose only Result predates the publish (a redrive after a failure)", async () => {
    const bus = createInProcessBus();
    await bus.ensureComponent({ name: "redriven", ackWaitMs: 5_000, maxDeliver: 5, duplicateWindowMs: 60_000 });
    const job = makeJob("redriven");
    await bus.publishResult({
      schema_version: 1,
      job_id: job.job_id,
      component: "redriven",
      status: "failed",
      reason_code: "dead_lettered",
      attempt: 5,
      finished_at: new Date(Date.now() - 60_000).toISOString(),
    });
    await bus.publishJob(job, { dedupKey: `${job.job_id}:redrive:1` });
    let runs = 0;
    const worker = await runWorker(
      defineComponent({
        isolation: "none",
        name: "redriven",
        retry: { baseDelayMs: 10, maxDelayMs: 20 },
        handle: (ctx) => {
          runs++;
          if (ctx.attempt === 1) throw new Error("transient");
          return "done";
        },
      }),
      { bus, logger: pino({ level: "silent" }) },
    );
    try {
      // The second delivery looks the Result up, finds only the old failure, and runs.
      await waitFor(
        "the new completed Result",
        async () => (await bus.getResult("redriven", job.job_id))?.status === "completed",
        5_000,
      );
      expect(runs).toBe(2);
    } finally {
      await worker.stop();
      await bus.close();
    }
  });
});
