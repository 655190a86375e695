import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { connectJetStreamBus, type Bus } from "@tessera/bus";
import { SCHEMA_VERSION, type Job, type Result } from "@tessera/contract";
import { startNatsServer, waitFor, type NatsServerHandle } from "@tessera/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createAutoscaler, type ScaleEvent } from "../../src/dev/autoscaler.js";
import { createWorkerProcessPool, type WorkerExit, type WorkerPool } from "../../src/dev/worker-pool.js";

const COMPONENT = "napper";
const JOBS = 60;
const COOLDOWN_MS = 1_500;

let nats: NatsServerHandle;
let bus: Bus;
let pool: WorkerPool | undefined;
const output: string[] = [];

beforeAll(async () => {
  nats = await startNatsServer();
  bus = await connectJetStreamBus({ servers: nats.url, name: "process-mode-autoscaling-test", provision: true });
  await bus.ensureComponent({ name: COMPONENT, ackWaitMs: 10_000, maxDeliver: 5, duplicateWindowMs: 60_000 });
});

afterAll(async () => {
  await pool?.stopAll();
  await bus?.close();
  await nats?.stop();
});

function job(i: number): Job {
  return {
    schema_version: SCHEMA_VERSION,
    job_id: `burst-${process.pid}-${i}`,
    component: COMPONENT,
    content_type: "application/json",
    limits: { max_bytes: 1_000_000, wall_clock: 10_000 },
    input: { inline: { i } },
  };
}

describe("tessera dev process mode: the local autoscaler on a real nats-server", () => {
  it("scales a component from 0 to its max on a burst, completes every job, and back to 0 after the cooldown", async () => {
    const exits: WorkerExit[] = [];
    pool = createWorkerProcessPool({
      natsUrl: nats.url,
      components: [
        { name: COMPONENT, modulePath: join(dirname(fileURLToPath(import.meta.url)), "fixtures", "napper.ts") },
      ],
      env: { LOG_LEVEL: "warn" },
      onOutput: (component, instanceId, line) => output.push(`${component}/${instanceId} ${line}`),
      onExit: (exit) => exits.push(exit),
    });
    const events: Array<ScaleEvent & { at: number }> = [];
    const errors: string[] = [];
    const scaler = createAutoscaler({
      components: [{ name: COMPONENT, minReplicas: 0, maxReplicas: 3, queueDepthTarget: 5, cooldownMs: COOLDOWN_MS }],
      queueDepth: async (name) => (await bus.queueDepth(name)).total,
      pool,
      intervalMs: 200,
      onScale: (e) => events.push({ ...e, at: Date.now() }),
      onError: (_c, err) => errors.push(err.message),
    });
    const failWithOutput = (err: unknown): never => {
      throw new Error(
        `${(err as Error).message}\nscale events: ${JSON.stringify(events)}\nworker output:\n${output.slice(-40).join("\n")}`,
      );
    };

    try {
      scaler.start();
      await scaler.tick();
      expect(scaler.status()[COMPONENT]).toEqual({ replicas: 0, desired: 0, lag: 0, active: false });

      const jobs = Array.from({ length: JOBS }, (_, i) => job(i));
      await Promise.all(jobs.map((j) => bus.publishJob(j)));
      await waitFor("the autoscaler to start 3 workers", () => pool?.replicas(COMPONENT) === 3, 5_000);

      const results = await waitFor(
        `completed Results for all ${JOBS} jobs`,
        async () => {
          const all = await Promise.all(jobs.map((j) => bus.getResult(COMPONENT, j.job_id)));
          return all.every((r) => r?.status === "completed") ? (all as Result[]) : undefined;
        },
        15_000,
        100,
      );
      const allDoneAt = Date.now();
      // More than one worker process really took jobs from the shared consumer.
      expect(new Set(results.map((r) => r.instance_id)).size).toBeGreaterThan(1);

      // The lag only falls after the burst, so the three workers started are the only ones there will be.
      await waitFor(
        "the workers to be scaled back to 0 and exit",
        () => pool?.replicas(COMPONENT) === 0 && exits.length === 3,
        10_000,
      );
      const last = events.at(-1);
      expect(last).toMatchObject({ to: 0, active: false, lag: 0 });
      expect((last?.at ?? 0) - allDoneAt).toBeGreaterThanOrEqual(COOLDOWN_MS - 500);
      expect(events[0]).toMatchObject({ from: 0, to: 3, active: true });
      expect(Math.max(...events.map((e) => e.to))).toBe(3);
      // Every worker left because it was asked to, after draining: none crashed.
      expect(exits.every((e) => e.requested && e.code === 0)).toBe(true);
      expect(errors).toEqual([]);
    } catch (err) {
      failWithOutput(err);
    } finally {
      await scaler.stop();
    }
  });
});
