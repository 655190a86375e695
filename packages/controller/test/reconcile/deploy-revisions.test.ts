import * as k8s from "@kubernetes/client-node";
import {
  CONFIG_HASH_ANNOTATION,
  DEPLOY_PROVENANCE_ANNOTATIONS,
  decodeDeployRevisionData,
  type ComponentSpec,
  type DeployRevisionData,
} from "@tessera/contract";
import { startFakeKubeApi, type FakeKubeApi } from "@tessera/kube-fake";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { COMPONENT_GROUP, COMPONENT_PLURAL, COMPONENT_VERSION } from "../../src/crd/index.js";
import type { RenderContext } from "../../src/render/context.js";
import { KubeAccess, type ComponentObject } from "../../src/reconcile/kube-access.js";
import { reconcileComponent, type ReconcileCounters } from "../../src/reconcile/reconciler.js";
import { startController } from "../../src/reconcile/controller.js";
import { waitFor } from "@tessera/testkit";

const render: RenderContext = {
  nats: { url: "nats://nats:4222", monitoringEndpoint: "nats:8222", namespace: "nats", podLabels: { app: "nats" } },
};
const streams = {
  ensureComponent: async () => undefined,
  removeComponent: async () => undefined,
  isConnected: () => true,
};
const NS = "docs";
const NAME = "extract";
const base: ComponentSpec = {
  image: "ex/worker:1",
  inputMode: "content-ref",
  egress: "none",
  config: { MODE: "fast" },
};

let fake: FakeKubeApi;
let kube: KubeAccess;
let custom: k8s.CustomObjectsApi;
let counters: ReconcileCounters;
const reconcile = () => reconcileComponent({ kube, streams, render, counters }, NS, NAME);
const component = async () => (await kube.getComponent(NS, NAME))!;

async function write(spec: ComponentSpec, annotations: Record<string, string> = {}): Promise<void> {
  const live = await kube.getComponent(NS, NAME);
  const body = {
    apiVersion: `${COMPONENT_GROUP}/${COMPONENT_VERSION}`,
    kind: "Component",
    metadata: { ...(live?.metadata ?? { name: NAME, namespace: NS }), annotations },
    spec,
  };
  const ref = { group: COMPONENT_GROUP, version: COMPONENT_VERSION, namespace: NS, plural: COMPONENT_PLURAL };
  if (live === undefined) await custom.createNamespacedCustomObject({ ...ref, body });
  else await custom.replaceNamespacedCustomObject({ ...ref, name: NAME, body: body as ComponentObject });
}

function revisions(): Array<{ name: string; revision: number; data: DeployRevisionData }> {
  return fake.store
    .list("apps/v1", "ControllerRevision", NS)
    .map((o) => {
      const data = decodeDeployRevisionData((o as { data?: unknown }).data);
      if (!data.ok) throw data.error;
      return { name: String(o.metadata!.name), revision: (o as { revision: number }).revision, data: data.value };
    })
    .sort((a, b) => a.revision - b.revision);
}

const deployment = () =>
  fake.store.get({ apiVersion: "apps/v1", kind: "Deployment", namespace: NS, name: NAME }) as {
    metadata: { annotations?: Record<string, string> };
    spec: {
      template: { metadata: { annotations: Record<string, string> }; spec: { containers: { image: string }[] } };
    };
  };
const configMaps = () => fake.store.list("v1", "ConfigMap", NS).map((c) => c.metadata!.name!);
const putOverlay = (data: Record<string, string>, labels: Record<string, string> = {}) =>
  fake.store.put({
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name: "extract-overlay", namespace: NS, labels },
    data,
  });

beforeEach(async () => {
  fake = await startFakeKubeApi({ namespaces: "auto" });
  const kc = await fake.kubeConfig();
  kube = new KubeAccess(kc);
  custom = kc.makeApiClient(k8s.CustomObjectsApi);
  counters = { applies: 0, skipped: 0, statusWrites: 0, finalizerWrites: 0, deletes: 0 };
});
afterEach(async () => {
  await fake.close();
});

describe("deploy revisions (kube-fake)", () => {
  it("records one revision, copies provenance everywhere, and a no-change reconcile writes nothing", async () => {
    await write(base, {
      [DEPLOY_PROVENANCE_ANNOTATIONS.deployedBy]: "ana",
      [DEPLOY_PROVENANCE_ANNOTATIONS.gitCommit]: "c1",
    });
    await reconcile();
    const [r1, ...rest] = revisions();
    expect(rest).toEqual([]);
    expect(r1).toMatchObject({ name: "extract-r1", revision: 1 });
    expect(r1!.data.provenance).toEqual({ deployedBy: "ana", gitCommit: "c1" });
    expect(r1!.data.images).toEqual(["ex/worker:1"]);
    expect((await component()).status).toMatchObject({ revision: 1, configMapName: r1!.data.config.configMapName });
    expect(deployment().metadata.annotations?.["tessera.dev/deployed-by"]).toBe("ana");
    const cm = fake.store.get({
      apiVersion: "v1",
      kind: "ConfigMap",
      namespace: NS,
      name: r1!.data.config.configMapName,
    }) as {
      immutable?: boolean;
      data?: Record<string, string>;
      metadata: { ownerReferences?: { kind: string; name: string }[] };
    };
    expect(cm.immutable).toBe(true);
    expect(cm.data).toEqual({ MODE: "fast" });
    expect(cm.metadata.ownerReferences).toEqual([
      expect.objectContaining({ kind: "ControllerRevision", name: "extract-r1" }),
    ]);

    fake.resetCounts();
    await write(base, {
      [DEPLOY_PROVENANCE_ANNOTATIONS.deployedBy]: "ana",
      [DEPLOY_PROVENANCE_ANNOTATIONS.gitCommit]: "c1",
    });
    fake.resetCounts();
    for (let i = 0; i < 3; i++) await reconcile();
    expect(fake.writes().total).toBe(0);
    expect(revisions()).toHaveLength(1);
  });

  it("an overlay change makes a new hash, ConfigMap and revision, and rolls the pods through the annotation", async () => {
    putOverlay({ LEVEL: "1" });
    await write({ ...base, configOverlay: "extract-overlay" });
    await reconcile();
    const before = deployment().spec.template.metadata.annotations[CONFIG_HASH_ANNOTATION];
    putOverlay({ LEVEL: "2", MODE: "careful" });
    await reconcile();
    const [r1, r2] = revisions();
    expect(r2?.revision).toBe(2);
    expect(r2!.data.effectiveConfig).toEqual({ MODE: "careful", LEVEL: "2" });
    expect(r2!.data.config.configMapName).not.toBe(r1!.data.config.configMapName);
    expect(r2!.data.overlay?.name).toBe("extract-overlay");
    const after = deployment().spec.template.metadata.annotations[CONFIG_HASH_ANNOTATION];
    expect(after).toBe(r2!.data.config.hash);
    expect(after).not.toBe(before);
    expect(configMaps()).toEqual(
      expect.arrayContaining([r1!.data.config.configMapName, r2!.data.config.configMapName]),
    );
  });

  it("a missing overlay is a condition: no crash, no revision, no rollout", async () => {
    await write({ ...base, configOverlay: "extract-overlay" });
    await reconcile();
    expect(revisions()).toEqual([]);
    expect(fake.store.list("apps/v1", "Deployment", NS)).toEqual([]);
    const conditions = (await component()).status?.conditions as { type: string; status: string; reason: string }[];
    expect(conditions).toContainEqual(
      expect.objectContaining({ type: "ConfigReady", status: "False", reason: "OverlayNotFound" }),
    );
    putOverlay({ LEVEL: "1" });
    await reconcile();
    expect(revisions()).toHaveLength(1);
  });

  it("rollback-of re-points to the old revision's content as a new revision, once", async () => {
    putOverlay({ LEVEL: "1" });
    await write({ ...base, configOverlay: "extract-overlay" });
    await reconcile();
    putOverlay({ LEVEL: "2" });
    await write({ ...base, image: "ex/worker:2", configOverlay: "extract-overlay" });
    await reconcile();
    const [r1] = revisions();
    // What `tessera rollback --to 1` writes: revision 1's spec and provenance, plus rollback-of.
    await write({ ...base, configOverlay: "extract-overlay" }, { [DEPLOY_PROVENANCE_ANNOTATIONS.rollbackOf]: "1" });
    await reconcile();
    const r3 = revisions()[2]!;
    expect(r3.revision).toBe(3);
    expect(r3.data.provenance.rollbackOf).toBe(1);
    // The config of revision 1 (LEVEL 1), though the overlay now says 2: a rollback rolls config and image together.
    expect(r3.data.config).toEqual(r1!.data.config);
    expect(deployment().spec.template.spec.containers[0]!.image).toBe("ex/worker:1");
    expect(deployment().spec.template.metadata.annotations[CONFIG_HASH_ANNOTATION]).toBe(r1!.data.config.hash);
    // The shared ConfigMap now follows the newest revision using it.
    const cm = fake.store.get({
      apiVersion: "v1",
      kind: "ConfigMap",
      namespace: NS,
      name: r1!.data.config.configMapName,
    });
    expect(cm?.metadata?.ownerReferences).toEqual([expect.objectContaining({ name: "extract-r3" })]);
    fake.resetCounts();
    await reconcile();
    expect(fake.writes().total).toBe(0);
    expect(revisions()).toHaveLength(3);
    // An overlay edit after the rollback is a change again.
    putOverlay({ LEVEL: "3" });
    await reconcile();
    expect(revisions().at(-1)?.data.effectiveConfig).toEqual({ MODE: "fast", LEVEL: "3" });
  });

  it("prunes beyond revisionHistoryLimit, oldest first, and the garbage collector takes their ConfigMaps", async () => {
    for (let i = 1; i <= 4; i++) {
      await write({ ...base, config: { MODE: `m${i}` }, revisionHistoryLimit: 2 });
      await reconcile();
    }
    const kept = revisions();
    expect(kept.map((r) => r.revision)).toEqual([3, 4]);
    expect((await component()).status?.revision).toBe(4);
    const names = configMaps();
    for (const r of kept) expect(names).toContain(r.data.config.configMapName);
    expect(names).toHaveLength(2);
  });
  it("records the canary's own ConfigMap and image in the revision, both owned by it", async () => {
    await write({ ...base, canary: { image: "ex/worker:2", config: { MODE: "careful" }, weight: 20 } });
    await reconcile();
    const [r1] = revisions();
    expect(r1!.data.images).toEqual(["ex/worker:1", "ex/worker:2"]);
    expect(r1!.data.canaryConfig?.configMapName).not.toBe(r1!.data.config.configMapName);
    for (const name of [r1!.data.config.configMapName, r1!.data.canaryConfig!.configMapName]) {
      const cm = fake.store.get({ apiVersion: "v1", kind: "ConfigMap", namespace: NS, name });
      expect(cm?.metadata?.ownerReferences).toEqual([expect.objectContaining({ name: "extract-r1" })]);
    }
  });

  it("a rollback-of naming a revision that is gone is an ordinary change, recorded once", async () => {
    await write(base);
    await reconcile();
    await write({ ...base, image: "ex/worker:0" }, { [DEPLOY_PROVENANCE_ANNOTATIONS.rollbackOf]: "7" });
    await reconcile();
    await reconcile();
    expect(revisions().map((r) => [r.revision, r.data.provenance.rollbackOf])).toEqual([
      [1, undefined],
      [2, 7],
    ]);
  });

  it("the controller's ConfigMap watch rolls a labelled overlay's edit without waiting for a resync", async () => {
    putOverlay({ LEVEL: "1" }, { "tessera.dev/component": NAME });
    await write({ ...base, configOverlay: "extract-overlay" });
    const controller = startController({ kube, streams, render, resyncMs: 3_600_000 });
    try {
      await waitFor("revision 1", async () => ((await component()).status?.revision === 1 ? true : undefined), 10_000);
      putOverlay({ LEVEL: "2" }, { "tessera.dev/component": NAME });
      await waitFor("revision 2", async () => ((await component()).status?.revision === 2 ? true : undefined), 10_000);
      expect(revisions().at(-1)?.data.effectiveConfig).toEqual({ MODE: "fast", LEVEL: "2" });
    } finally {
      await controller.stop();
    }
  });
});
