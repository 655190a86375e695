import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { jobStreamName } from "@tessera/contract";
import { startNatsServer, type NatsServerHandle } from "@tessera/testkit";
import { afterAll, describe, expect, it } from "vitest";
import { createInProcessBus } from "../src/embedded/inprocess-bus.js";
import { freePort } from "../src/nats/free-port.js";
import { connectJetStreamBus } from "../src/nats/jetstream-bus.js";

/** A three-node JetStream cluster on loopback (JetStream needs a quorum, so one node is not enough). */
async function startCluster(): Promise<{ urls: string[]; stop(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), "tessera-cluster-"));
  const nodes = [];
  for (let i = 0; i < 3; i++) nodes.push({ port: await freePort("127.0.0.1"), route: await freePort("127.0.0.1") });
  const routes = nodes.map((n) => `"nats://127.0.0.1:${n.route}"`).join(", ");
  const children: ChildProcess[] = [];
  const ready = nodes.map(async (node, i) => {
    const conf = join(dir, `n${i}.conf`);
    await writeFile(
      conf,
      [
        `server_name: n${i}`,
        `listen: "127.0.0.1:${node.port}"`,
        `jetstream { store_dir: ${JSON.stringify(join(dir, `n${i}`))} }`,
        `cluster { name: tessera-test, listen: "127.0.0.1:${node.route}", routes: [${routes}] }`,
      ].join("\n"),
    );
    const child = spawn(process.env["NATS_SERVER_BIN"] ?? "nats-server", ["-c", conf], {
      stdio: ["ignore", "ignore", "pipe"],
    });
    children.push(child);
    await new Promise<void>((resolve, reject) => {
      let log = "";
      child.stderr?.on("data", (d: Buffer) => {
        log += d.toString();
        // A metadata leader elected somewhere: the cluster answers JetStream requests.
        if (/JetStream cluster new metadata leader|Self is new JetStream cluster metadata leader/.test(log)) resolve();
      });
      child.once("exit", (code) => reject(new Error(`nats-server n${i} exited with ${code}: ${log}`)));
    });
  });
  await Promise.any(ready);
  return {
    urls: nodes.map((n) => `nats://127.0.0.1:${n.port}`),
    async stop() {
      for (const c of children) c.kill("SIGKILL");
      await rm(dir, { recursive: true, force: true });
    },
  };
}

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

    const cluster = await startCluster();
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
