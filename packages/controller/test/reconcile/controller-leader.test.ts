import * as k8s from "@kubernetes/client-node";
import { connectJetStreamBus, type Bus } from "@tessera/bus";
import { startFakeKubeApi, type FakeKubeApi } from "@tessera/kube-fake";
import { startNatsServer, waitFor, type NatsServerHandle } from "@tessera/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { COMPONENT_GROUP, COMPONENT_PLURAL, COMPONENT_VERSION } from "../../src/crd/index.js";
import type { RenderContext } from "../../src/render/context.js";
import { startController, type Controller } from "../../src/reconcile/controller.js";
import { KubeAccess } from "../../src/reconcile/kube-access.js";

const render: RenderContext = {
  nats: {
    url: "nats://nats.nats.svc:4222",
    monitoringEndpoint: "nats.nats.svc:8222",
    namespace: "nats",
    podLabels: { "app.kubernetes.io/name": "nats" },
  },
};
const TIMING = { leaseDurationMs: 1_000, renewDeadlineMs: 600, retryPeriodMs: 100 };

let nats: NatsServerHandle;
let bus: Bus;
let fake: FakeKubeApi;
let custom: k8s.CustomObjectsApi;
beforeAll(async () => {
  [nats, fake] = await Promise.all([startNatsServer(), startFakeKubeApi({ namespaces: "auto" })]);
  bus = await connectJetStreamBus({ servers: nats.url, provision: true, name: "controller-leader-test" });
  custom = (await fake.kubeConfig()).makeApiClient(k8s.CustomObjectsApi);
});
afterAll(async () => {
  await bus?.close();
  await nats?.stop();
  await fake?.close();
});

async function createComponent(name: string): Promise<void> {
  await custom.createNamespacedCustomObject({
    group: COMPONENT_GROUP,
    version: COMPONENT_VERSION,
    namespace: "apps",
    plural: COMPONENT_PLURAL,
    body: {
      apiVersion: `${COMPONENT_GROUP}/${COMPONENT_VERSION}`,
      kind: "Component",
      metadata: { name },
      spec: { image: "example/worker:1", inputMode: "content-ref", egress: "none" },
    },
  });
}

async function reconciled(name: string): Promise<boolean> {
  const c = (await custom.getNamespacedCustomObject({
    group: COMPONENT_GROUP,
    version: COMPONENT_VERSION,
    namespace: "apps",
    plural: COMPONENT_PLURAL,
    name,
  })) as { status?: { conditions?: { type: string; status: string }[] } };
  return c.status?.conditions?.some((x) => x.type === "StreamReady" && x.status === "True") === true;
}

const writesOf = (c: Controller): number =>
  c.counters.applies + c.counters.statusWrites + c.counters.finalizerWrites + c.counters.deletes;

describe("two controllers with leader election (kube-fake)", () => {
  it("only the Lease holder reconciles; when it stops, the other takes over and reconciles", async () => {
    const kc = await fake.kubeConfig();
    const start = (identity: string): Controller =>
      startController({
        kube: new KubeAccess(kc),
        streams: bus,
        render,
        concurrency: 2,
        resyncMs: 3_600_000,
        leaderElection: { namespace: "tessera-system", identity, ...TIMING },
      });
    const a = start("a");
    const b = start("b");
    try {
      await waitFor("a leader", () => a.isLeader() || b.isLeader(), 5_000, 10);
      const [leader, standby] = a.isLeader() ? [a, b] : [b, a];
      for (const name of ["le-one", "le-two", "le-three"]) await createComponent(name);
      for (const name of ["le-one", "le-two", "le-three"])
        await waitFor(`${name} reconciled`, () => reconciled(name), 10_000, 20);
      await leader.idle();
      expect(writesOf(leader)).toBeGreaterThan(0);
      expect(standby.isLeader()).toBe(false);
      expect(writesOf(standby)).toBe(0);
      expect(standby.ready()).toBe(true);

      // A rolling update's old pod on SIGTERM: it finishes, releases the Lease, and the standby takes over.
      await leader.stop();
      await waitFor("the standby to lead", () => standby.isLeader(), 3_000, 10);
      await createComponent("le-four");
      await waitFor("le-four reconciled by the new leader", () => reconciled("le-four"), 10_000, 20);
      expect(writesOf(standby)).toBeGreaterThan(0);
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
  });
});
