/**
 * What a canary's `weight` buys on a real work queue (docs/decisions/0040-canary-weight-on-a-work-queue.md):
 * the controller's split of the scaling gives each revision its replica count for a backlog, those workers
 * (the real worker runtime, each revision told by TESSERA_REVISION's option) pull from the one durable consumer
 * of a real nats-server, and the share of jobs the canary ran, told apart by the Results' instance ids as the
 * coordinator does and by the workers' own `revision` metric label, is within TOLERANCE of its share of workers.
 */
import { connectJetStreamBus, type Bus, type Subscription } from "@tessera/bus";
import {
  SCHEMA_VERSION,
  busSettingsFromSpec,
  canaryWorkloadName,
  revisionOfInstance,
  type ComponentSpec,
  type Job,
  type Revision,
} from "@tessera/contract";
import { scalingShares, type ScalingShare } from "@tessera/controller";
import { sleep, startNatsServer, waitFor, type NatsServerHandle } from "@tessera/testkit";
import { defineComponent, runWorker, type WorkerHandle } from "@tessera/worker";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

/** Jobs per run: enough that one job is 0.17 % of the split. */
const JOBS = 600;
const HANDLER_MS = 20;
/** Percentage points between the canary's share of jobs and its share of workers that still pass. */
const TOLERANCE = 0.05;

let nats: NatsServerHandle;
let bus: Bus;
let resultsSub: Subscription;
/** job id → instance id of the Result. */
const ranBy = new Map<string, string>();
const silent = pino({ level: "silent" });

beforeAll(async () => {
  nats = await startNatsServer();
  bus = await connectJetStreamBus({ servers: nats.url, provision: true, name: "canary-split" });
  resultsSub = await bus.consumeResults((e) => {
    if (e.kind === "result") ranBy.set(e.result.job_id, e.result.instance_id ?? "");
  });
});
afterAll(async () => {
  await resultsSub?.stop();
  await bus?.close();
  await nats?.stop();
});

/** KEDA's answer for one ScaledObject at a lag: ceil(lag / lagThreshold), within its replica bounds. */
function kedaReplicas(share: ScalingShare, lag: number): number {
  return Math.min(share.maxReplicas, Math.max(share.minReplicas, Math.ceil(lag / share.queueDepthTarget)));
}

async function jobsTotal(worker: WorkerHandle, revision: Revision): Promise<number> {
  const metric = await worker.metrics.getSingleMetric("tessera_jobs_total")?.get();
  return (
    metric?.values.find((v) => v.labels["outcome"] === "completed" && v.labels["revision"] === revision)?.value ?? 0
  );
}

async function runSplit(
  name: string,
  weight: number,
  mode: { jobs: number; sequential?: boolean; canaryHandlerMs?: number } = { jobs: JOBS },
): Promise<{ expected: number; observed: number; stable: number; canary: number; byMetric: number }> {
  const spec: ComponentSpec = {
    image: "example/w:1",
    inputMode: "content-ref",
    egress: "none",
    scaling: { minReplicas: 0, maxReplicas: 10, queueDepthTarget: 10 },
    canary: { image: "example/w:2", weight },
  };
  await bus.ensureComponent(busSettingsFromSpec(name, spec));
  const shares = scalingShares(spec, weight);
  const stable = kedaReplicas(shares.stable, mode.sequential === true ? 1 : mode.jobs);
  const canary = kedaReplicas(shares.canary, mode.sequential === true ? 1 : mode.jobs);

  // Every worker holds its first job until all are bound and the backlog is published, so none gets a head start.
  let release!: () => void;
  const go = new Promise<void>((resolve) => (release = resolve));
  const definition = (handlerMs: number): ReturnType<typeof defineComponent> =>
    defineComponent({
      name,
      version: "1.0.0",
      isolation: "none",
      handle: async () => {
        await go;
        await sleep(handlerMs);
        return { ok: true };
      },
    });
  const definitions = { stable: definition(HANDLER_MS), canary: definition(mode.canaryHandlerMs ?? HANDLER_MS) };
  const workers: { handle: WorkerHandle; revision: Revision }[] = [];
  try {
    for (const [revision, count] of [
      ["stable", stable],
      ["canary", canary],
    ] as const) {
      // Instance ids as in Kubernetes: the pod name, which starts with its Deployment's name.
      const deployment = revision === "canary" ? canaryWorkloadName(name) : name;
      for (let i = 0; i < count; i++) {
        const handle = await runWorker(definitions[revision], {
          bus,
          instanceId: `${deployment}-5d9c7-${i}`,
          revision,
          logger: silent,
        });
        workers.push({ handle, revision });
      }
    }
    await waitFor("every worker bound", () => workers.every((w) => w.handle.ready) || undefined, 30_000);
    const jobs: Job[] = Array.from({ length: mode.jobs }, (_, i) => ({
      schema_version: SCHEMA_VERSION,
      job_id: `${name}-${i}`,
      component: name,
      content_type: "application/json",
      limits: { max_bytes: 1_000, wall_clock: 30_000 },
      input: { inline: { i } },
    }));
    if (mode.sequential === true) {
      // No backlog: each job is published once the previous one has its Result.
      release();
      for (const job of jobs) {
        await bus.publishJob(job);
        await waitFor(`the Result of ${job.job_id}`, () => ranBy.has(job.job_id) || undefined, 30_000);
      }
    } else {
      for (let i = 0; i < jobs.length; i += 100)
        await Promise.all(jobs.slice(i, i + 100).map((j) => bus.publishJob(j)));
      release();
    }
    await waitFor(`${mode.jobs} Results`, () => jobs.every((j) => ranBy.has(j.job_id)) || undefined, 60_000);
    const byCanary = jobs.filter((j) => revisionOfInstance(name, ranBy.get(j.job_id)!) === "canary").length;
    let byMetric = 0;
    for (const w of workers) {
      // A worker counts only under its own revision.
      expect(await jobsTotal(w.handle, w.revision === "canary" ? "stable" : "canary")).toBe(0);
      if (w.revision === "canary") byMetric += await jobsTotal(w.handle, "canary");
    }
    return { expected: canary / (stable + canary), observed: byCanary / mode.jobs, stable, canary, byMetric };
  } finally {
    for (const w of workers) await w.handle.stop();
  }
}

describe("canary weight on a real nats-server work queue", () => {
  it.each([10, 25, 50])(
    "weight %i: the canary's share of a backlog is its share of workers, within 5 points",
    { timeout: 120_000 },
    async (weight) => {
      const name = `split-${weight}-${process.pid % 1000}`;
      const r = await runSplit(name, weight);
      // The replica split itself follows the weight (one worker is the rounding unit).
      expect(Math.abs(r.expected - weight / 100)).toBeLessThanOrEqual(1 / (r.stable + r.canary));
      expect(r.byMetric).toBe(Math.round(r.observed * JOBS));
      console.log(
        `canary weight ${weight}: ${r.stable} stable + ${r.canary} canary workers (share ${(r.expected * 100).toFixed(1)} %), canary ran ${(r.observed * 100).toFixed(1)} % of ${JOBS} jobs`,
      );
      expect(Math.abs(r.observed - r.expected)).toBeLessThanOrEqual(TOLERANCE);
    },
  );

  it(
    "with no backlog each revision runs its one worker, so the weight does not hold (why weight is a share of workers)",
    {
      timeout: 120_000,
    },
    async () => {
      const name = `split-idle-${process.pid % 1000}`;
      const r = await runSplit(name, 10, { jobs: 200, sequential: true });
      // KEDA activates both ScaledObjects on the first waiting job: one worker each, whatever the weight.
      expect([r.stable, r.canary]).toEqual([1, 1]);
      expect(r.byMetric).toBe(Math.round(r.observed * 200));
      console.log(
        `canary weight 10 with no backlog: 1 stable + 1 canary worker, canary ran ${(r.observed * 100).toFixed(1)} % of 200 jobs`,
      );
      // The canary takes far more than its weight: it is one of two idle workers each time a job arrives.
      expect(r.observed).toBeGreaterThan(0.1 + TOLERANCE);
    },
  );

  it(
    "a canary twice as slow runs its share of the capacity, not of the workers (why the weight is not a job share)",
    { timeout: 120_000 },
    async () => {
      const name = `split-slow-${process.pid % 1000}`;
      const r = await runSplit(name, 50, { jobs: JOBS, canaryHandlerMs: 2 * HANDLER_MS });
      // 5 workers at 10 ms and 5 at 20 ms: the canary has 1/3 of the throughput.
      const capacityShare = r.canary / 2 / (r.stable + r.canary / 2);
      console.log(
        `canary weight 50, canary handler ${2 * HANDLER_MS} ms vs ${HANDLER_MS} ms: ${r.stable} + ${r.canary} workers, canary ran ${(r.observed * 100).toFixed(1)} % of ${JOBS} jobs (capacity share ${(capacityShare * 100).toFixed(1)} %)`,
      );
      expect(Math.abs(r.observed - capacityShare)).toBeLessThanOrEqual(TOLERANCE);
    },
  );
});
