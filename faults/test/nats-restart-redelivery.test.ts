/**
 * Found by the long fault run: nats-server 2.9, SIGKILLed, loses the acks of the last moments before the
 * kill (its consumer state is written asynchronously). After the restart it delivers those jobs again, as
 * first deliveries (delivery count 1). The worker's duplicate guard looked a job's Result up only for a
 * delivery count > 1 or a job older than one ack wait, so a job that had completed less than an ack wait
 * before the kill ran a second time and produced a second completed Result (3 to 9 of 300 here, when it happens, 218 of 10,000 in
 * the long run). The guard now looks every delivery up.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { waitFor } from "@tessera/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { completedResultsOnBus, storeJobs } from "../src/evidence.js";
import { faultSpec, startStack, type Stack } from "../src/stack.js";

let stack: Stack;

beforeAll(async () => {
  // An ack wait much longer than a kill and restart, so every job is younger than one ack wait when it comes back.
  stack = await startStack({ spec: faultSpec({ ackWaitMs: 10_000 }), workers: 2, handlerSleepMs: 0 });
}, 90_000);
afterAll(() => stack?.close());

describe("nats-server SIGKILLed right after jobs completed", () => {
  it(
    "does not complete them a second time when it redelivers them after the restart",
    { timeout: 120_000 },
    async () => {
      const ROUNDS = 3;
      const PER_ROUND = 200;
      for (let round = 0; round < ROUNDS; round++) {
        await Promise.all(
          Array.from({ length: 6 }, async (_, lane) => {
            for (let i = lane; i < PER_ROUND; i += 6)
              expect((await stack.submit(`restart-${round}-${i}`, { n: i })).status).toBe(201);
          }),
        );
        // Kill the server the moment the round's last job has run (its ack just sent), then bring it back at once.
        const ran = (round + 1) * PER_ROUND;
        await waitFor(
          `round ${round}'s jobs to have run`,
          () => new Set(stack.effects.jobIds("executions")).size === ran,
          30_000,
          5,
        );
        await stack.nats.kill();
        await stack.nats.start();
      }
      const N = ROUNDS * PER_ROUND;
      await waitFor(
        "every job to be completed",
        async () => (await storeJobs(stack.databaseUrl)).every((j) => j.state === "completed"),
        30_000,
        200,
      );
      // Deliveries the server had handed to the old connections come back after the 10 s ack wait. Pending
      // entries whose job the kill removed from the stream but not from the consumer's state are never
      // redelivered by nats-server 2.9: the drain relies on the workers' consumer repair (bus/consumer-repair.ts).
      await stack.drained(60_000);
      await sleep(500);
      // One completed Result per job. (A job whose handler or Result was in flight when the server died does
      // run again, legitimately: its first run never stored a Result.)
      const results = await completedResultsOnBus(stack.nats.url);
      expect({ completedResults: results.length, jobs: new Set(results).size }).toEqual({
        completedResults: N,
        jobs: N,
      });
      expect(new Set(stack.effects.jobIds("executions")).size).toBe(N);
    },
  );
});
