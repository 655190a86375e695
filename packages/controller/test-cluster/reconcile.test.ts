import { BusNotProvisionedError, connectJetStreamBus, type Bus } from "@tessera/bus";
import { durableConsumerName, type ComponentSpec } from "@tessera/contract";
import { sleep, startNatsServer, waitFor, type NatsServerHandle } from "@tessera/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { COMPONENT_GROUP, COMPONENT_PLURAL, COMPONENT_VERSION } from "../src/crd/index.js";
import { startController, type Controller } from "../src/reconcile/controller.js";
import { FIELD_MANAGER, KubeAccess, type ComponentObject } from "../src/reconcile/kube-access.js";
import { STREAM_FINALIZER } from "../src/reconcile/reconciler.js";
import { IN_CLUSTER_NATS, fakeBackend, realBackend, type ApiBackend } from "./cluster-env.js";

// The scenarios the controller's unit tests run on kube-fake, here through a real kube-apiserver with the real
// garbage collector (kube-controller-manager), and on kube-fake again with the same assertions (parity).
const render = IN_CLUSTER_NATS;
const spec = (over: Partial<ComponentSpec> = {}): ComponentSpec => ({
  image: "example/worker:1",
  inputMode: "content-ref",
  egress: "none",
  scaling: { minReplicas: 0, maxReplicas: 3, queueDepthTarget: 5 },
  ...over,
});
const NS = "docs";
const COMPONENTS = `/apis/${COMPONENT_GROUP}/${COMPONENT_VERSION}/namespaces/${NS}/${COMPONENT_PLURAL}`;
const paths = (name: string) => ({
  component: `${COMPONENTS}/${name}`,
  deployment: `/apis/apps/v1/namespaces/${NS}/deployments/${name}`,
  scaledObject: `/apis/keda.sh/v1alpha1/namespaces/${NS}/scaledobjects/${name}`,
  denyPolicy: `/apis/networking.k8s.io/v1/namespaces/${NS}/networkpolicies/${name}-default-deny`,
  egressPolicy: `/apis/networking.k8s.io/v1/namespaces/${NS}/networkpolicies/${name}-egress`,
});

interface Managed {
  metadata: {
    uid: string;
    resourceVersion: string;
    ownerReferences?: { uid: string; kind: string; controller?: boolean }[];
    managedFields?: { manager: string; operation: string; fieldsV1?: Record<string, unknown> }[];
  };
  spec: Record<string, unknown>;
}
interface Condition {
  type: string;
  status: string;
  reason: string;
}

let nats: NatsServerHandle;
let bus: Bus;
beforeAll(async () => {
  nats = await startNatsServer();
  bus = await connectJetStreamBus({ servers: nats.url, provision: true, name: "cluster-reconcile" });
});
afterAll(async () => {
  await bus?.close();
  await nats?.stop();
});

let seq = 0;

describe.each([
  { backend: "kube-apiserver", start: () => realBackend({ controllerManager: true }) },
  { backend: "kube-fake", start: fakeBackend },
])("the controller against $backend", ({ backend, start }) => {
  let api: ApiBackend;
  let controller: Controller;
  const unique = (base: string): string => `${base}-${backend === "kube-fake" ? "f" : "r"}${++seq}`;
  const get = async <T>(path: string): Promise<T | undefined> => {
    const res = await api.request("GET", path);
    if (res.status === 404) return undefined;
    if (res.status !== 200) throw new Error(`GET ${path}: ${res.status} ${JSON.stringify(res.body)}`);
    return res.body as T;
  };
  const create = async (name: string, s: ComponentSpec): Promise<void> => {
    const res = await api.request("POST", COMPONENTS, {
      apiVersion: `${COMPONENT_GROUP}/${COMPONENT_VERSION}`,
      kind: "Component",
      metadata: { name },
      spec: s,
    });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
  };
  const condition = (c: ComponentObject | undefined, type: string): Condition | undefined =>
    (c?.status?.conditions as Condition[] | undefined)?.find((x) => x.type === type);
  /** Waits until the status describes the current generation and the stream is provisioned. */
  const converged = (name: string): Promise<ComponentObject> =>
    waitFor(
      `${name} to converge`,
      async () => {
        const c = await get<ComponentObject>(paths(name).component);
        return c !== undefined &&
          c.status?.observedGeneration === c.metadata.generation &&
          condition(c, "StreamReady")?.status === "True"
          ? c
          : undefined;
      },
      30_000,
      50,
    );

  beforeAll(async () => {
    api = await start();
    await api.createNamespace(NS);
    controller = startController({
      kube: new KubeAccess(api.kubeConfig),
      streams: bus,
      render,
      concurrency: 4,
      resyncMs: 3_600_000,
    });
  });
  afterAll(async () => {
    await controller?.stop();
    await api?.stop();
  });

  it("applies under its field manager, reports status and observedGeneration, and follows a spec change", async () => {
    const name = unique("extract");
    await create(name, spec());
    const first = await converged(name);
    expect(first.metadata.finalizers).toEqual([STREAM_FINALIZER]);
    expect(condition(first, "Valid")).toMatchObject({ status: "True", reason: "Valid" });
    expect(await bus.queueDepth(name)).toEqual({ pending: 0, ackPending: 0, total: 0 });

    const p = paths(name);
    for (const path of [p.deployment, p.scaledObject, p.denyPolicy, p.egressPolicy]) {
      const object = await get<Managed>(path);
      expect(object, path).toBeDefined();
      // Server-side apply under the controller's manager; owned by the Component, so the GC can remove it.
      expect(object?.metadata.managedFields, path).toContainEqual(
        expect.objectContaining({ manager: FIELD_MANAGER, operation: "Apply" }),
      );
      expect(object?.metadata.ownerReferences, path).toEqual([
        expect.objectContaining({ kind: "Component", uid: first.metadata.uid, controller: true }),
      ]);
    }
    const deployment = (await get<Managed>(p.deployment)) as Managed;
    // replicas was never sent: the API server defaulted it, and the controller's Apply entry does not own it.
    expect(deployment.spec["replicas"]).toBe(1);
    const applied = deployment.metadata.managedFields?.find((m) => m.manager === FIELD_MANAGER);
    expect(JSON.stringify(applied?.fieldsV1)).not.toContain("f:replicas");
    const scaled = (await get<Managed>(p.scaledObject)) as Managed;
    expect(scaled.spec["maxReplicaCount"]).toBe(3);
    expect((scaled.spec["triggers"] as { metadata: { consumer: string } }[])[0]?.metadata.consumer).toBe(
      durableConsumerName(name),
    );

    const patched = await api.request(
      "PATCH",
      p.component,
      { spec: { scaling: { minReplicas: 0, maxReplicas: 7, queueDepthTarget: 5 } } },
      "application/merge-patch+json",
    );
    expect(patched.status, JSON.stringify(patched.body)).toBe(200);
    const second = await converged(name);
    expect(second.metadata.generation).toBe((first.metadata.generation ?? 0) + 1);
    expect(second.status?.observedGeneration).toBe(second.metadata.generation);
    await waitFor(
      "the new maxReplicaCount",
      async () => (await get<Managed>(p.scaledObject))?.spec["maxReplicaCount"] === 7,
      15_000,
    );
  });

  it("keeps the replica count another field manager set, across reconciles", async () => {
    const name = unique("scaled");
    await create(name, spec());
    await converged(name);
    const p = paths(name);
    // What KEDA does: its own write of spec.replicas (through /scale on a real cluster; a merge patch here).
    const scaled = await api.request(
      "PATCH",
      `${p.deployment}?fieldManager=keda-operator`,
      { spec: { replicas: 3 } },
      "application/merge-patch+json",
    );
    expect(scaled.status, JSON.stringify(scaled.body)).toBe(200);
    // A change of the Component's spec makes the controller apply the Deployment again.
    await api.request("PATCH", p.component, { spec: { image: "example/worker:2" } }, "application/merge-patch+json");
    await waitFor(
      "the new image applied",
      async () =>
        (
          (await get<Managed>(p.deployment))?.spec["template"] as
            { spec: { containers: { image: string }[] } } | undefined
        )?.spec.containers[0]?.image === "example/worker:2",
      15_000,
    );
    await controller.resync();
    await controller.idle();
    const deployment = (await get<Managed>(p.deployment)) as Managed;
    expect(deployment.spec["replicas"]).toBe(3);
    expect(deployment.metadata.managedFields).toContainEqual(
      expect.objectContaining({ manager: "keda-operator", operation: "Update" }),
    );
  });

  it("a second pass writes nothing: no resourceVersion moves, not even the Component's status", async () => {
    const name = unique("steady");
    await create(name, spec());
    await converged(name);
    const p = paths(name);
    await controller.idle();
    const versions = async (): Promise<(string | undefined)[]> =>
      Promise.all(
        [p.component, p.deployment, p.scaledObject, p.denyPolicy, p.egressPolicy].map(
          async (path) => (await get<Managed>(path))?.metadata.resourceVersion,
        ),
      );
    // The Deployment's own controller (kube-controller-manager) may still be writing its status, and each write
    // wakes ours to copy the replica counts into the Component's status: wait until neither moves any more, so
    // only the resync below is measured.
    const before = await waitFor(
      `${name}'s objects to settle`,
      async () => {
        const first = await versions();
        await controller.idle();
        await sleep(300);
        const second = await versions();
        return JSON.stringify(first) === JSON.stringify(second) ? second : undefined;
      },
      15_000,
      50,
    );
    const counters = { ...controller.counters };
    await controller.resync();
    await controller.idle();
    expect(await versions()).toEqual(before);
    expect(controller.counters.applies).toBe(counters.applies);
    expect(controller.counters.statusWrites).toBe(counters.statusWrites);
  });

  it("a name Kubernetes accepts but the contract refuses is reported in status; nothing is provisioned", async () => {
    // A DNS subdomain (dots allowed) is a valid object name; component names are DNS labels.
    const name = `${unique("dotted")}.v2`;
    await create(name, spec());
    const c = await waitFor(
      `${name} reported invalid`,
      async () => {
        const got = await get<ComponentObject>(paths(name).component);
        return condition(got, "Valid")?.status === "False" ? got : undefined;
      },
      30_000,
      50,
    );
    expect(condition(c, "Valid")).toMatchObject({ reason: "InvalidSpec" });
    expect(c.status?.observedGeneration).toBe(c.metadata.generation);
    expect(condition(c, "StreamReady")).toMatchObject({ status: "Unknown", reason: "InvalidSpec" });
    expect(await get(paths(name).deployment)).toBeUndefined();
    expect(await get(paths(name).scaledObject)).toBeUndefined();
    // The finalizer is on (a later valid rename is impossible, but deletion must still pass through us).
    const deleted = await api.request("DELETE", paths(name).component);
    expect(deleted.status, JSON.stringify(deleted.body)).toBe(200);
    await waitFor("the invalid Component to go", async () => (await get(paths(name).component)) === undefined, 30_000);
  });

  it("on delete removes the stream and consumer, then its finalizer; what it owned is garbage-collected", async () => {
    const name = unique("gone");
    await create(name, spec());
    await converged(name);
    const p = paths(name);
    const deleted = await api.request("DELETE", p.component);
    expect(deleted.status, JSON.stringify(deleted.body)).toBe(200);
    await waitFor("the Component to go", async () => (await get(p.component)) === undefined, 30_000, 50);
    await expect(bus.queueDepth(name)).rejects.toBeInstanceOf(BusNotProvisionedError);
    // The real garbage collector works asynchronously, kube-fake's at once: wait either way.
    for (const path of [p.deployment, p.scaledObject, p.denyPolicy, p.egressPolicy])
      await waitFor(`${path} garbage-collected`, async () => (await get(path)) === undefined, 60_000, 100);
  });
});
