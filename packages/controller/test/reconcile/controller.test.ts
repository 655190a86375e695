import * as k8s from "@kubernetes/client-node";
import { BusNotProvisionedError, connectJetStreamBus, type Bus } from "@tessera/bus";
import { durableConsumerName, type ComponentSpec } from "@tessera/contract";
import { startFakeKubeApi, type FakeKubeApi, type FakeKubeApiOptions } from "@tessera/kube-fake";
import { startNatsServer, waitFor, type NatsServerHandle } from "@tessera/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { COMPONENT_GROUP, COMPONENT_PLURAL, COMPONENT_VERSION } from "../../src/crd/index.js";
import type { RenderContext } from "../../src/render/context.js";
import { startController } from "../../src/reconcile/controller.js";
import { KubeAccess } from "../../src/reconcile/kube-access.js";
import {
  reconcileComponent,
  STREAM_FINALIZER,
  type ReconcileCounters,
  type StreamProvisioner,
} from "../../src/reconcile/reconciler.js";

const render: RenderContext = {
  nats: {
    url: "nats://nats.nats.svc:4222",
    monitoringEndpoint: "nats.nats.svc:8222",
    namespace: "nats",
    podLabels: { "app.kubernetes.io/name": "nats" },
  },
};
const spec = (over: Partial<ComponentSpec> = {}): ComponentSpec => ({
  image: "example/worker:1",
  inputMode: "content-ref",
  egress: "none",
  scaling: { minReplicas: 0, maxReplicas: 3, queueDepthTarget: 5 },
  ...over,
});

let nats: NatsServerHandle;
let bus: Bus;
beforeAll(async () => {
  nats = await startNatsServer();
  bus = await connectJetStreamBus({ servers: nats.url, provision: true, name: "controller-test" });
});
afterAll(async () => {
  await bus?.close();
  await nats?.stop();
});

interface Env {
  fake: FakeKubeApi;
  kube: KubeAccess;
  custom: k8s.CustomObjectsApi;
  counters: ReconcileCounters;
  reconcile(namespace: string, name: string, streams?: StreamProvisioner): Promise<void>;
  create(namespace: string, name: string, s: ComponentSpec): Promise<void>;
  close(): Promise<void>;
}

async function env(fakeOptions: FakeKubeApiOptions = {}): Promise<Env> {
  const fake = await startFakeKubeApi({ namespaces: "auto", ...fakeOptions });
  const kc = await fake.kubeConfig();
  const kube = new KubeAccess(kc);
  const custom = kc.makeApiClient(k8s.CustomObjectsApi);
  const counters: ReconcileCounters = { applies: 0, skipped: 0, statusWrites: 0, finalizerWrites: 0, deletes: 0 };
  return {
    fake,
    kube,
    custom,
    counters,
    reconcile: (namespace, name, streams = bus) =>
      reconcileComponent({ kube, streams, render, counters }, namespace, name),
    create: async (namespace, name, s) => {
      await custom.createNamespacedCustomObject({
        group: COMPONENT_GROUP,
        version: COMPONENT_VERSION,
        namespace,
        plural: COMPONENT_PLURAL,
        body: {
          apiVersion: `${COMPONENT_GROUP}/${COMPONENT_VERSION}`,
          kind: "Component",
          metadata: { name, namespace },
          spec: s,
        },
      });
    },
    close: () => fake.close(),
  };
}

let seq = 0;
const unique = (base: string): string => `${base}-${process.pid % 1000}-${++seq}`;

describe("reconcileComponent against the in-memory API and a real nats-server", () => {
  it("provisions the stream and consumer first, applies the rendered objects, and reports status", async () => {
    const e = await env();
    const name = unique("extract");
    try {
      await e.create("docs", name, spec());
      await e.reconcile("docs", name);
      expect(await bus.queueDepth(name)).toEqual({ pending: 0, ackPending: 0, total: 0 });
      const kinds = ["Deployment", "ScaledObject", "NetworkPolicy"].map(
        (kind) =>
          e.fake.store.list(
            kind === "ScaledObject" ? "keda.sh/v1alpha1" : kind === "Deployment" ? "apps/v1" : "networking.k8s.io/v1",
            kind,
            "docs",
          ).length,
      );
      expect(kinds).toEqual([1, 1, 2]);
      const scaled = e.fake.store.list("keda.sh/v1alpha1", "ScaledObject", "docs")[0] as {
        spec: { triggers: { metadata: { consumer: string } }[] };
      };
      expect(scaled.spec.triggers[0]?.metadata.consumer).toBe(durableConsumerName(name));
      const component = (await e.kube.getComponent("docs", name))!;
      expect(component.metadata.finalizers).toEqual([STREAM_FINALIZER]);
      expect(component.status?.observedGeneration).toBe(component.metadata.generation);
      expect(component.status?.conditions).toEqual([
        expect.objectContaining({ type: "Valid", status: "True" }),
        expect.objectContaining({ type: "StreamReady", status: "True" }),
        expect.objectContaining({ type: "ConfigReady", status: "True", reason: "Revision" }),
        // The API server defaulted replicas to 1 and nothing runs pods here: workers are starting.
        expect.objectContaining({ type: "Ready", status: "False", reason: "WorkersStarting" }),
      ]);
    } finally {
      await e.close();
    }
  });

  it("applies a declared rbac, writes nothing on a second pass, and prunes what the spec drops", async () => {
    const e = await env();
    const name = unique("rbac");
    const names = (apiVersion: string, kind: string) =>
      e.fake.store
        .list(apiVersion, kind, "docs")
        .map((o) => o.metadata?.name)
        .sort();
    const respec = async (s: ComponentSpec) => {
      const c = (await e.kube.getComponent("docs", name))!;
      await e.kube.replaceComponent({ ...c, spec: s });
    };
    const rbac = "rbac.authorization.k8s.io/v1";
    try {
      await e.create(
        "docs",
        name,
        spec({
          rbac: { rules: [{ apiGroups: [""], resources: ["configmaps"], verbs: ["get"] }], clusterRoles: ["view"] },
        }),
      );
      await e.reconcile("docs", name);
      expect(names("v1", "ServiceAccount")).toEqual([name]);
      expect(names(rbac, "Role")).toEqual([name]);
      expect(names(rbac, "RoleBinding")).toEqual([name, `${name}-view`]);

      e.fake.resetCounts();
      await e.reconcile("docs", name);
      expect(e.fake.writes().total).toBe(0);

      await respec(spec({ rbac: {} }));
      await e.reconcile("docs", name);
      expect(names("v1", "ServiceAccount")).toEqual([name]);
      expect(names(rbac, "Role")).toEqual([]);
      expect(names(rbac, "RoleBinding")).toEqual([]);
      expect(e.counters.deletes).toBe(3);

      await respec(spec());
      await e.reconcile("docs", name);
      expect(names("v1", "ServiceAccount")).toEqual([]);
      const deployment = e.fake.store.get({ apiVersion: "apps/v1", kind: "Deployment", namespace: "docs", name }) as {
        spec: { template: { spec: { serviceAccountName: string; automountServiceAccountToken: boolean } } };
      };
      expect(deployment.spec.template.spec).toMatchObject({
        serviceAccountName: "default",
        automountServiceAccountToken: false,
      });
      expect(e.counters.deletes).toBe(4);
    } finally {
      await e.close();
    }
  });

  it("writes nothing on a second pass, and keeps the replica count KEDA set", async () => {
    const e = await env();
    const name = unique("steady");
    try {
      await e.create("docs", name, spec());
      await e.reconcile("docs", name);
      const deployment = e.fake.store.get({ apiVersion: "apps/v1", kind: "Deployment", namespace: "docs", name }) as {
        spec: { replicas: number };
      };
      // "KEDA" scales the Deployment through its own write.
      await e.kube.kubeConfig
        .makeApiClient(k8s.AppsV1Api)
        .patchNamespacedDeployment(
          { name, namespace: "docs", body: { spec: { replicas: 3 } }, fieldManager: "keda-operator" },
          k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.MergePatch),
        );
      expect(deployment.spec.replicas).toBe(1);
      const before = e.fake.writes().total;
      const applies = e.counters.applies;
      await e.reconcile("docs", name);
      await e.reconcile("docs", name);
      expect(e.counters.applies).toBe(applies);
      // The only write is the status catching up with the new replica count; then nothing.
      expect(e.fake.writes().total - before).toBeLessThanOrEqual(1);
      const settled = e.fake.writes().total;
      await e.reconcile("docs", name);
      expect(e.fake.writes().total).toBe(settled);
      expect(
        (
          e.fake.store.get({ apiVersion: "apps/v1", kind: "Deployment", namespace: "docs", name }) as {
            spec: { replicas: number };
          }
        ).spec.replicas,
      ).toBe(3);
    } finally {
      await e.close();
    }
  });

  it("reports an invalid spec in status (not only in a log) and provisions nothing", async () => {
    const e = await env();
    const name = unique("bad");
    try {
      await e.create("docs", name, spec({ egress: "allowlist" }));
      await e.reconcile("docs", name);
      const component = (await e.kube.getComponent("docs", name))!;
      expect(component.status?.conditions?.[0]).toMatchObject({
        type: "Valid",
        status: "False",
        reason: "InvalidSpec",
        message: expect.stringContaining("allowlist"),
      });
      expect(e.fake.store.list("apps/v1", "Deployment", "docs")).toHaveLength(0);
      await expect(bus.queueDepth(name)).rejects.toBeInstanceOf(BusNotProvisionedError);
    } finally {
      await e.close();
    }
  });

  it("refuses a local-only config value outside local, in status, and provisions nothing", async () => {
    const e = await env();
    const name = unique("stub");
    try {
      await e.create("docs", name, spec({ config: { FAKE: "1" }, configClasses: { FAKE: "local-only" } }));
      await reconcileComponent(
        { kube: e.kube, streams: bus, render: { ...render, environment: "staging" }, counters: e.counters },
        "docs",
        name,
      );
      const component = (await e.kube.getComponent("docs", name))!;
      expect(component.status?.conditions?.[0]).toMatchObject({
        type: "Valid",
        status: "False",
        reason: "RefusedInEnvironment",
        message: expect.stringContaining(`[local_only_config] component ${name}: config FAKE is local-only`),
      });
      expect(e.fake.store.list("apps/v1", "Deployment", "docs")).toHaveLength(0);
      await expect(bus.queueDepth(name)).rejects.toBeInstanceOf(BusNotProvisionedError);
    } finally {
      await e.close();
    }
  });

  it("reports NATS unreachable in status and fails the pass so it is retried", async () => {
    const e = await env();
    const name = unique("nonats");
    const down: StreamProvisioner = {
      ensureComponent: () => Promise.reject(new Error("CONNECTION_REFUSED")),
      removeComponent: () => Promise.resolve(),
      isConnected: () => false,
    };
    try {
      await e.create("docs", name, spec());
      await expect(e.reconcile("docs", name, down)).rejects.toThrow("CONNECTION_REFUSED");
      const component = (await e.kube.getComponent("docs", name))!;
      expect(component.status?.conditions?.[1]).toMatchObject({
        type: "StreamReady",
        status: "False",
        reason: "NatsUnavailable",
      });
      expect(e.fake.store.list("apps/v1", "Deployment", "docs")).toHaveLength(0);
    } finally {
      await e.close();
    }
  });

  it("removes the stream and consumer on delete, then lets the Component go", async () => {
    const e = await env();
    const name = unique("gone");
    try {
      await e.create("docs", name, spec());
      await e.reconcile("docs", name);
      await e.custom.deleteNamespacedCustomObject({
        group: COMPONENT_GROUP,
        version: COMPONENT_VERSION,
        namespace: "docs",
        plural: COMPONENT_PLURAL,
        name,
      });
      expect((await e.kube.getComponent("docs", name))?.metadata.deletionTimestamp).toBeDefined();
      await e.reconcile("docs", name);
      expect(await e.kube.getComponent("docs", name)).toBeUndefined();
      await expect(bus.queueDepth(name)).rejects.toBeInstanceOf(BusNotProvisionedError);
    } finally {
      await e.close();
    }
  });
});

describe("the controller loop", () => {
  it("converges 100 Components, then a full resync performs zero writes", async () => {
    const e = await env();
    const controller = startController({ kube: e.kube, streams: bus, render, concurrency: 8, resyncMs: 3_600_000 });
    try {
      const names = Array.from({ length: 100 }, () => unique("c"));
      const started = performance.now();
      for (const name of names) await e.create("fleet", name, spec());
      await waitFor(
        "100 Components to be Ready-reported",
        async () => {
          const items = e.fake.store.list(`${COMPONENT_GROUP}/${COMPONENT_VERSION}`, "Component", "fleet") as {
            status?: { conditions?: { type: string; reason: string }[] };
          }[];
          return (
            items.length === 100 &&
            items.every((c) =>
              c.status?.conditions?.some((x) => x.type === "StreamReady" && x.reason === "Provisioned"),
            )
          );
        },
        60_000,
        100,
      );
      await controller.idle();
      const convergeMs = performance.now() - started;
      expect(controller.ready()).toBe(true);
      const writes = e.fake.writes().total;
      await controller.resync();
      await new Promise((r) => setTimeout(r, 50));
      await controller.idle();
      expect(e.fake.writes().total - writes).toBe(0);
      console.log(
        JSON.stringify({
          components: 100,
          convergeMs: Math.round(convergeMs),
          resyncWrites: e.fake.writes().total - writes,
          applies: controller.counters.applies,
          skipped: controller.counters.skipped,
        }),
      );
      await Promise.all(names.map((n) => bus.removeComponent(n)));
    } finally {
      await controller.stop();
      await e.close();
    }
  }, 120_000);

  it("follows its Deployments: Ready turns True when a worker becomes ready, without waiting for a resync", async () => {
    const e = await env();
    const controller = startController({ kube: e.kube, streams: bus, render, concurrency: 2, resyncMs: 3_600_000 });
    const name = unique("ready");
    const ref = { apiVersion: "apps/v1", kind: "Deployment", namespace: "docs", name };
    try {
      await e.create("docs", name, spec());
      await waitFor("the Deployment", () => e.fake.store.get(ref) !== undefined, 10_000);
      await controller.idle();
      // What the Deployment controller would write once a pod is up.
      const deployment = e.fake.store.get(ref) as Record<string, unknown>;
      e.fake.store.put({ ...deployment, status: { replicas: 1, readyReplicas: 1 } } as never);
      await waitFor(
        "Ready=True (WorkersReady)",
        async () => {
          const c = await e.kube.getComponent("docs", name);
          return (
            c?.status?.replicas === 1 &&
            (c.status.conditions as { type: string; reason: string }[] | undefined)?.some(
              (x) => x.type === "Ready" && x.reason === "WorkersReady",
            )
          );
        },
        10_000,
      );
      await bus.removeComponent(name);
    } finally {
      await controller.stop();
      await e.close();
    }
  }, 30_000);

  it("picks up a change through the watch, and lists again after the watch is dropped", async () => {
    const e = await env();
    // A dropped watch is noticed either by the client (the connection closes) or, if the close never
    // reaches it, by the watchdog after 1.5 s of silence: both end in a fresh list.
    const controller = startController({
      kube: e.kube,
      streams: bus,
      render,
      concurrency: 2,
      resyncMs: 3_600_000,
      watchdogMs: 1_500,
    });
    const name = unique("watched");
    try {
      await e.create("docs", name, spec());
      await waitFor(
        "the Deployment",
        () => e.fake.store.get({ apiVersion: "apps/v1", kind: "Deployment", namespace: "docs", name }) !== undefined,
        10_000,
      );
      e.fake.dropWatches();
      await e.custom.patchNamespacedCustomObject(
        {
          group: COMPONENT_GROUP,
          version: COMPONENT_VERSION,
          namespace: "docs",
          plural: COMPONENT_PLURAL,
          name,
          body: { spec: { image: "example/worker:2" } },
        },
        k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.MergePatch),
      );
      await waitFor(
        "the new image in the Deployment",
        () =>
          (
            e.fake.store.get({ apiVersion: "apps/v1", kind: "Deployment", namespace: "docs", name }) as
              { spec: { template: { spec: { containers: { image: string }[] } } } } | undefined
          )?.spec.template.spec.containers[0]?.image === "example/worker:2",
        15_000,
      );
      await bus.removeComponent(name);
    } finally {
      await controller.stop();
      await e.close();
    }
  }, 30_000);

  it("stops, and its watchdog lists again, even while a watch's response has not begun (headers held until the first event)", async () => {
    const e = await env({ watchHeaders: "with-first-event" });
    let lists = 0;
    const listComponents = e.kube.listComponents.bind(e.kube);
    e.kube.listComponents = () => {
      lists += 1;
      return listComponents();
    };
    const controller = startController({
      kube: e.kube,
      streams: bus,
      render,
      concurrency: 2,
      resyncMs: 3_600_000,
      watchdogMs: 400,
    });
    try {
      // No Components, Deployments or ConfigMaps: no watch ever sends a byte.
      await waitFor("the three watches open", () => e.fake.openWatches() === 3, 10_000);
      await waitFor("the watchdog to give up on the silent watch and list again", () => lists >= 2, 10_000);
      const started = performance.now();
      await controller.stop();
      // It used to wait out client-node's 30 s request timeout.
      expect(performance.now() - started).toBeLessThan(5_000);
    } finally {
      await controller.stop();
      await e.close();
    }
  }, 30_000);
});
