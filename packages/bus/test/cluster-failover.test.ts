import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { jobStreamName, type Job } from "@tessera/contract";
import { startNatsCluster, waitFor, type NatsClusterHandle } from "@tessera/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Bus } from "../src/bus.js";
import { connectJetStreamBus } from "../src/nats/jetstream-bus.js";

const COMPONENT = "failover";
const JOBS = 300;

let cluster: NatsClusterHandle;
const closers: Array<() => Promise<unknown>> = [];
beforeAll(async () => {
  cluster = await startNatsCluster();
});
afterAll(async () => {
  for (const close of closers.reverse()) await close().catch(() => undefined);
  await cluster?.stop();
});

function job(i: number): Job {
  return {
    schema_version: 1,
    job_id: `failover-${i}`,
    component: COMPONENT,
    content_type: "application/json",
    limits: { max_bytes: 1024, wall_clock: 10_000 },
    input: { inline: { i } },
  };
}

/** Retries what a node's death interrupts, as the coordinator's outbox relay does (same dedup key: no copy). */
async function persist<T>(what: string, call: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (err) {
      if (attempt >= 60) throw new Error(`${what}: ${(err as Error).message}`, { cause: err });
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

describe("a 3-node JetStream cluster, R3 streams", () => {
  it("SIGKILL of the stream's leader mid-run loses no job", async () => {
    const connectBus = async (name: string): Promise<Bus> => {
      const bus = await connectJetStreamBus({ servers: cluster.urls, streamReplicas: 3, provision: true, name });
      closers.push(() => bus.close());
      return bus;
    };
    const producer = await connectBus("failover-producer");
    await persist("ensureComponent", () =>
      producer.ensureComponent({ name: COMPONENT, ackWaitMs: 2_000, maxDeliver: 20, duplicateWindowMs: 120_000 }),
    );
    const nc = await connect({ servers: cluster.urls });
    closers.push(() => nc.close());
    const jsm = await jetstreamManager(nc);
    const info = await jsm.streams.info(jobStreamName(COMPONENT));
    expect(info.config.num_replicas).toBe(3);
    const leader = info.cluster?.leader;
    expect(cluster.names).toContain(leader);

    const worker = await connectBus("failover-worker");
    const done = new Map<string, number>();
    await worker.consumeJobs(COMPONENT, { maxInFlight: 8 }, async (delivery) => {
      const id = delivery.dedupKey ?? "";
      await new Promise((r) => setTimeout(r, 5));
      done.set(id, (done.get(id) ?? 0) + 1);
      delivery.ack();
    });

    let killedAt = -1;
    for (let i = 0; i < JOBS; i++) {
      if (i === JOBS / 3) {
        // Mid-run: the node leading the stream dies without a word; its peers elect a new leader.
        killedAt = i;
        await cluster.kill(cluster.names.indexOf(leader as string));
      }
      await persist(`publish job ${i}`, () => producer.publishJob(job(i)));
    }
    expect(killedAt).toBe(JOBS / 3);
    await waitFor(`all ${JOBS} jobs handled`, () => done.size === JOBS, 120_000, 100);
    const missing = Array.from({ length: JOBS }, (_, i) => `failover-${i}`).filter((id) => !done.has(id));
    expect(missing).toEqual([]);
    const after = await persist("stream info", () => jsm.streams.info(jobStreamName(COMPONENT)));
    expect(after.cluster?.leader).not.toBe(leader);
    // A work-queue stream: every acked job is gone, nothing is left behind.
    await waitFor("the work queue to drain", async () => (await producer.queueDepth(COMPONENT)).total === 0, 30_000);
    const redelivered = [...done.values()].filter((n) => n > 1).length;
    console.log(JSON.stringify({ jobs: JOBS, killed: leader, newLeader: after.cluster?.leader, redelivered }));
  }, 240_000);
});
