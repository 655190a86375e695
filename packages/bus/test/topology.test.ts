import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { jobStreamName } from "@tessera/contract";
import { startNatsCluster, startNatsServer, type NatsServerHandle } from "@tessera/testkit";
import { afterAll, describe, expect, it } from "vitest";
import { createInProcessBus } from "../src/embedded/inprocess-bus.js";
import { connectJetStreamBus } from "../src/nats/jetstream-bus.js";

describe("bus topology (what the environment's guard rails read)", () => {
  const stops: Array<() => Promise<void>> = [];
  afterAll(async () => {
    for (const stop of stops.reverse()) await stop();
  });

  it("the in-process bus is never clustered", () => {
    expect(createInProcessBus().topology()).toEqual({ clustered: false, streamReplicas: 1 });
  });

  it("a JetStream bus reports whether its server is clustered, and the replicas it creates streams with", async () => {
    const single: NatsServerHandle = await startNatsServer();
    stops.push(() => single.stop());
    const plain = await connectJetStreamBus({ servers: single.url });
    stops.push(() => plain.close());
    expect(plain.topology()).toEqual({ clustered: false, streamReplicas: 1 });

    const cluster = await startNatsCluster();
    stops.push(() => cluster.stop());
    const clustered = await connectJetStreamBus({ servers: cluster.urls, streamReplicas: 3 });
    stops.push(() => clustered.close());
    expect(clustered.topology()).toEqual({ clustered: true, streamReplicas: 3 });
    // The replicas are what the streams are created with.
    await clustered.ensureComponent({
      name: "replicated",
      ackWaitMs: 30_000,
      maxDeliver: 3,
      duplicateWindowMs: 60_000,
    });
    const nc = await connect({ servers: cluster.urls });
    stops.push(() => nc.close());
    const jsm = await jetstreamManager(nc);
    expect((await jsm.streams.info(jobStreamName("replicated"))).config.num_replicas).toBe(3);
  });

  it("refuses a replica count JetStream cannot have", async () => {
    await expect(connectJetStreamBus({ servers: "nats://127.0.0.1:1", streamReplicas: 0 })).rejects.toThrow(
      /streamReplicas: expected an integer from 1 to 5, got 0/,
    );
  });
});
