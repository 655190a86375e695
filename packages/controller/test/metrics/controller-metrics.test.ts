import * as k8s from "@kubernetes/client-node";
import type { ComponentSpec } from "@tessera/contract";
import { startFakeKubeApi } from "@tessera/kube-fake";
import { waitFor } from "@tessera/testkit";
import { describe, expect, it } from "vitest";
import { COMPONENT_GROUP, COMPONENT_PLURAL, COMPONENT_VERSION } from "../../src/crd/index.js";
import { startController } from "../../src/reconcile/controller.js";
import { KubeAccess } from "../../src/reconcile/kube-access.js";
import type { StreamProvisioner } from "../../src/reconcile/reconciler.js";

const spec: ComponentSpec = { image: "example/worker:1", inputMode: "content-ref", egress: "none" };

/**
 * A NATS that can be switched off: while it is, provisioning fails (the reconcile errs and is retried with
 * backoff) and the controller reports NATS unreachable.
 */
function switchableNats(): StreamProvisioner & { up: boolean } {
  return {
    up: false,
    async ensureComponent() {
      if (!this.up) throw new Error("NATS is down");
    },
    async removeComponent() {},
    isConnected() {
      return this.up;
    },
  };
}

async function sample(text: Promise<string>, series: string): Promise<number | undefined> {
  const line = (await text).split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe("the controller's metrics", () => {
  it("count reconciles by outcome with their duration, and follow NATS reachability", async () => {
    const fake = await startFakeKubeApi({ namespaces: "auto" });
    const kubeConfig = await fake.kubeConfig();
    const nats = switchableNats();
    const controller = startController({
      kube: new KubeAccess(kubeConfig),
      streams: nats,
      render: {
        nats: {
          url: "nats://nats:4222",
          monitoringEndpoint: "nats:8222",
          namespace: "nats",
          podLabels: { app: "nats" },
        },
      },
      resyncMs: 3_600_000,
    });
    const metrics = (): Promise<string> => controller.metrics.registry.metrics();
    try {
      expect(await sample(metrics(), "tessera_controller_nats_reachable")).toBe(0);
      await kubeConfig.makeApiClient(k8s.CustomObjectsApi).createNamespacedCustomObject({
        group: COMPONENT_GROUP,
        version: COMPONENT_VERSION,
        namespace: "docs",
        plural: COMPONENT_PLURAL,
        body: {
          apiVersion: `${COMPONENT_GROUP}/${COMPONENT_VERSION}`,
          kind: "Component",
          metadata: { name: "extract", namespace: "docs" },
          spec,
        },
      });
      await waitFor(
        "a failed reconcile",
        async () => ((await sample(metrics(), 'tessera_controller_reconciles_total{outcome="error"}')) ?? 0) > 0,
        10_000,
      );
      nats.up = true;
      expect(await sample(metrics(), "tessera_controller_nats_reachable")).toBe(1);
      await waitFor(
        "a reconcile that succeeds once NATS is back",
        async () => ((await sample(metrics(), 'tessera_controller_reconciles_total{outcome="ok"}')) ?? 0) > 0,
        15_000,
      );
      const text = await metrics();
      expect(text).toMatch(/^tessera_controller_reconcile_duration_seconds_count\{outcome="ok"\} [1-9]/m);
      expect(text).toMatch(/^tessera_controller_work_queue_depth \d+$/m);
      expect(text).toMatch(/^tessera_controller_api_reachable 1$/m);
    } finally {
      await controller.stop();
      await fake.close();
    }
  });
});
