/**
 * The cluster tier runs the bus conformance suite, the R3 failover test and the topology test a second time
 * (vitest.cluster.config.ts includes them), on the nats-server scripts/cluster-binaries.sh built instead of
 * Debian's 2.9.10 that `npm test` uses. This file proves that second run really is on the built server.
 */
import { clusterBinaries, startNatsCluster, startNatsServer } from "@tessera/testkit";
import { describe, expect, it } from "vitest";

describe("the nats-server of the cluster tier", () => {
  it("is the one scripts/cluster-binaries.sh built (NATS_SERVER_BIN), single and clustered", async () => {
    const built = await clusterBinaries(["nats-server"]);
    expect(process.env["NATS_SERVER_BIN"]).toBe(built.natsServer);
    const server = await startNatsServer();
    try {
      expect(`v${server.version}`).toBe(built.versions["nats-server"]);
    } finally {
      await server.stop();
    }
    const cluster = await startNatsCluster();
    try {
      const varz = await fetch(`http://127.0.0.1:${cluster.monitorPorts[0]}/varz`);
      expect(`v${((await varz.json()) as { version: string }).version}`).toBe(built.versions["nats-server"]);
    } finally {
      await cluster.stop();
    }
  });
});
