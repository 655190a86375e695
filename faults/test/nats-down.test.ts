/**
 * nats-server down for a while (SIGKILLed, restarted later on the same port and store directory): submit
 * keeps accepting, every job waits in the coordinator's outbox as `pending`, and when the server returns
 * the same coordinator and worker processes (no restart) reconnect and drain everything, each job once.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { waitFor } from "@tessera/testkit";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { storeJobs } from "../src/evidence.js";
import { startStack, type Stack } from "../src/stack.js";

let stack: Stack;

beforeAll(async () => {
  stack = await startStack({ workers: 2 });
}, 90_000);
afterAll(() => stack?.close());

async function outboxRows(): Promise<number> {
  const client = new pg.Client({ connectionString: stack.databaseUrl });
  await client.connect();
  try {
    return Number((await client.query<{ n: string }>("SELECT count(*) AS n FROM tessera_outbox")).rows[0]?.n);
  } finally {
    await client.end();
  }
}

describe("nats-server down", () => {
  it(
    "submit keeps accepting into the outbox, and everything drains when the server returns",
    { timeout: 90_000 },
    async () => {
      const before = [];
      for (let i = 0; i < 10; i++) before.push(await stack.submit(`warm-${i}`, { n: i }));
      await waitFor(
        "the first jobs to complete",
        async () => (await storeJobs(stack.databaseUrl)).every((j) => j.state === "completed"),
        20_000,
        200,
      );

      await stack.nats.kill();
      const downSince = Date.now();
      const ids: string[] = [];
      for (let i = 0; i < 100; i++) {
        const reply = await stack.submit(`while-down-${i}`, { n: i });
        expect(reply.status, JSON.stringify(reply.body)).toBe(201);
        expect(reply.body).toMatchObject({ created: true, state: "pending" });
        ids.push(reply.body["jobId"] as string);
      }
      // Down for several seconds: the relay keeps retrying (with backoff), nothing leaves the outbox.
      await sleep(Math.max(0, 5_000 - (Date.now() - downSince)));
      const pending = (await storeJobs(stack.databaseUrl)).filter((j) => ids.includes(j.jobId));
      expect(pending.map((j) => j.state)).toEqual(ids.map(() => "pending"));
      expect(await outboxRows()).toBe(100);
      const health = await stack.api("GET", "/readyz");
      expect(health).toMatchObject({ status: 503, body: { ready: false, checks: { store: true, bus: false } } });

      await stack.nats.start();
      await waitFor(
        "every job to complete after nats-server returned",
        async () => {
          const jobs = await storeJobs(stack.databaseUrl);
          return jobs.length === 110 && jobs.every((j) => j.state === "completed");
        },
        45_000,
        250,
      );
      expect(await outboxRows()).toBe(0);
      await stack.drained(10_000);
      // The same processes reconnected: none was restarted.
      expect([stack.coordinator, ...stack.workers].map((c) => c.starts)).toEqual([1, 1, 1]);
      // Each job ran once and applied its effect once.
      const executions = stack.effects.jobIds("executions");
      expect(new Set(executions).size).toBe(110);
      expect(stack.effects.jobIds("applied").length).toBe(110);
      expect((await stack.api("GET", "/readyz")).status).toBe(200);
    },
  );
});
