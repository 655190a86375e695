import * as k8s from "@kubernetes/client-node";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { startFakeKubeApi, type FakeKubeApi } from "../src/index.js";

let api: FakeKubeApi;
let core: k8s.CoreV1Api;
let apps: k8s.AppsV1Api;

beforeEach(async () => {
  api = await startFakeKubeApi();
  const kc = await api.kubeConfig();
  core = kc.makeApiClient(k8s.CoreV1Api);
  apps = kc.makeApiClient(k8s.AppsV1Api);
});
afterEach(async () => {
  await api.close();
});

async function code(p: Promise<unknown>): Promise<number> {
  try {
    await p;
  } catch (e) {
    if (e instanceof k8s.ApiException) return e.code;
    throw e;
  }
  return 200;
}

describe("immutable ConfigMaps and ControllerRevisions", () => {
  it("refuses to change an immutable ConfigMap's data or to make it mutable, as the real server does (422)", async () => {
    const created = await core.createNamespacedConfigMap({
      namespace: "default",
      body: { metadata: { name: "c" }, immutable: true, data: { A: "1" } },
    });
    const replace = (body: k8s.V1ConfigMap) =>
      core.replaceNamespacedConfigMap({ name: "c", namespace: "default", body });
    expect(await code(replace({ ...created, data: { A: "2" } }))).toBe(422);
    expect(await code(replace({ ...created, immutable: false }))).toBe(422);
    // Metadata stays writable (the controller re-owns a reused ConfigMap).
    const relabelled = await replace({ ...created, metadata: { ...created.metadata, labels: { x: "y" } } });
    expect(relabelled.metadata?.labels).toEqual({ x: "y" });
  });

  it("serves apps/v1 ControllerRevisions, listed by label", async () => {
    await apps.createNamespacedControllerRevision({
      namespace: "default",
      body: { metadata: { name: "x-r1", labels: { app: "x" } }, revision: 1, data: { any: ["json"] } },
    });
    const list = await apps.listNamespacedControllerRevision({ namespace: "default", labelSelector: "app=x" });
    expect(list.items.map((r) => [r.metadata?.name, r.revision, r.data])).toEqual([["x-r1", 1, { any: ["json"] }]]);
  });
});
