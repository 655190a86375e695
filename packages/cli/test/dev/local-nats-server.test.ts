import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { NatsServerNotInstalledError, connectJetStreamBus, freePort, startLocalNatsServer } from "@tessera/bus";
import { describe, expect, it } from "vitest";

describe("startLocalNatsServer (what tessera dev starts)", () => {
  it("says how to install nats-server when it is missing", async () => {
    const attempt = startLocalNatsServer({ binary: "/nonexistent/nats-server" });
    await expect(attempt).rejects.toBeInstanceOf(NatsServerNotInstalledError);
    await expect(attempt).rejects.toThrow(
      /nats-server is not installed \(looked for "\/nonexistent\/nats-server"\)\. Install it with `apt-get install -y nats-server` \(Debian\/Ubuntu\) or from the official releases/,
    );
  });

  it("uses the ports and store dir it is given, serves monitoring, and keeps a given store across stop and start", async () => {
    const storeDir = await mkdtemp(join(tmpdir(), "tessera-dev-store-"));
    const [port, monitorPort] = [await freePort(), await freePort()];
    try {
      const first = await startLocalNatsServer({ storeDir, port, monitorPort });
      expect(first).toMatchObject({
        url: `nats://127.0.0.1:${port}`,
        monitorUrl: `http://127.0.0.1:${monitorPort}`,
        storeDir,
      });
      expect(first.version).toMatch(/^\d+\.\d+\.\d+/);
      const varz = (await (await fetch(`${first.monitorUrl}/varz`)).json()) as {
        jetstream?: { config?: { store_dir?: string } };
      };
      expect(varz.jetstream?.config?.store_dir).toContain(storeDir);
      const bus = await connectJetStreamBus({ servers: first.url });
      await bus.ensureComponent({ name: "kept", ackWaitMs: 5_000, maxDeliver: 3, duplicateWindowMs: 60_000 });
      await bus.close();
      await first.stop();

      expect(await readdir(storeDir)).toContain("jetstream");
      const second = await startLocalNatsServer({ storeDir, port, monitorPort });
      const again = await connectJetStreamBus({ servers: second.url, provision: false });
      expect(await again.queueDepth("kept")).toEqual({ pending: 0, ackPending: 0, total: 0 });
      await again.close();
      await second.stop();
    } finally {
      await rm(storeDir, { recursive: true, force: true });
    }
  });

  it("removes the temporary store it created on stop", async () => {
    const server = await startLocalNatsServer();
    await server.stop();
    await expect(readdir(server.storeDir)).rejects.toThrow(/ENOENT/);
  });
});
