import * as k8s from "@kubernetes/client-node";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { startFakeKubeApi, type FakeKubeApi } from "../src/index.js";

const NS = "default";
const G = { group: "tessera.dev", version: "v1alpha1", plural: "components" };

let api: FakeKubeApi;
let kc: k8s.KubeConfig;
let apps: k8s.AppsV1Api;
let custom: k8s.CustomObjectsApi;
let objects: k8s.KubernetesObjectApi;

beforeEach(async () => {
  api = await startFakeKubeApi();
  kc = await api.kubeConfig();
  apps = kc.makeApiClient(k8s.AppsV1Api);
  custom = kc.makeApiClient(k8s.CustomObjectsApi);
  objects = k8s.KubernetesObjectApi.makeApiClient(kc);
});
afterEach(async () => {
  await api.close();
});

async function failure(p: Promise<unknown>): Promise<{ code: number; status: Record<string, unknown> }> {
  try {
    await p;
  } catch (e) {
    if (e instanceof k8s.ApiException) {
      const body =
        typeof e.body === "string"
          ? (JSON.parse(e.body) as Record<string, unknown>)
          : (e.body as Record<string, unknown>);
      return { code: e.code, status: body };
    }
    throw e;
  }
  throw new Error("expected the request to fail");
}

function deployment(name: string, extra: Record<string, unknown> = {}): k8s.V1Deployment {
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name, namespace: NS, labels: { app: name } },
    spec: {
      selector: { matchLabels: { app: name } },
      template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: "w", image: "w:1" }] } },
      ...extra,
    },
  };
}

function component(name: string, spec: Record<string, unknown> = { image: "w:1" }) {
  return { apiVersion: "tessera.dev/v1alpha1", kind: "Component", metadata: { name, namespace: NS }, spec };
}

const merge = k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.MergePatch);
const jsonPatch = k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.JsonPatch);

async function ssa(obj: k8s.KubernetesObject, manager = "tessera-controller", force = true) {
  return objects.patch(obj, undefined, undefined, manager, force, k8s.PatchStrategy.ServerSideApply);
}

describe("CRUD and errors", () => {
  it("creates, reads, lists, replaces and deletes a Deployment", async () => {
    const created = await apps.createNamespacedDeployment({ namespace: NS, body: deployment("a") });
    expect(created.metadata?.uid).toMatch(/^[0-9a-f-]{36}$/);
    expect(created.metadata?.creationTimestamp).toBeInstanceOf(Date);
    expect(created.metadata?.generation).toBe(1);
    const rv1 = Number(created.metadata?.resourceVersion);
    const read = await apps.readNamespacedDeployment({ name: "a", namespace: NS });
    expect(read.metadata?.resourceVersion).toBe(String(rv1));
    const list = await apps.listNamespacedDeployment({ namespace: NS });
    expect(list.items.map((d) => d.metadata?.name)).toEqual(["a"]);
    expect(Number(list.metadata?.resourceVersion)).toBeGreaterThanOrEqual(rv1);
    const all = await apps.listDeploymentForAllNamespaces();
    expect(all.items).toHaveLength(1);

    read.spec!.template.spec!.containers[0]!.image = "w:2";
    const replaced = await apps.replaceNamespacedDeployment({ name: "a", namespace: NS, body: read });
    expect(Number(replaced.metadata?.resourceVersion)).toBeGreaterThan(rv1);
    expect(replaced.metadata?.generation).toBe(2);

    await apps.deleteNamespacedDeployment({ name: "a", namespace: NS });
    expect(api.store.get({ apiVersion: "apps/v1", kind: "Deployment", namespace: NS, name: "a" })).toBeUndefined();
  });

  it("answers 404 NotFound for a missing object on GET, PUT, PATCH and DELETE", async () => {
    for (const call of [
      () => apps.readNamespacedDeployment({ name: "nope", namespace: NS }),
      () => apps.replaceNamespacedDeployment({ name: "nope", namespace: NS, body: deployment("nope") }),
      () => apps.patchNamespacedDeployment({ name: "nope", namespace: NS, body: { spec: { replicas: 2 } } }, merge),
      () => apps.deleteNamespacedDeployment({ name: "nope", namespace: NS }),
      () => custom.getNamespacedCustomObject({ ...G, namespace: NS, name: "nope" }),
    ]) {
      const f = await failure(call());
      expect(f.code).toBe(404);
      expect(f.status).toMatchObject({ kind: "Status", status: "Failure", reason: "NotFound", code: 404 });
    }
    const f = await failure(apps.readNamespacedDeployment({ name: "nope", namespace: NS }));
    expect(f.status.message).toBe('deployments.apps "nope" not found');
  });

  it("answers 409 AlreadyExists on creating an existing name and 404 for a missing namespace", async () => {
    await apps.createNamespacedDeployment({ namespace: NS, body: deployment("a") });
    const f = await failure(apps.createNamespacedDeployment({ namespace: NS, body: deployment("a") }));
    expect(f.code).toBe(409);
    expect(f.status.reason).toBe("AlreadyExists");
    const g = await failure(
      apps.createNamespacedDeployment({ namespace: "ghost", body: { ...deployment("a"), metadata: { name: "a" } } }),
    );
    expect(g.code).toBe(404);
    expect(g.status.message).toBe('namespaces "ghost" not found');
  });

  it("answers 409 Conflict for a PUT with a stale resourceVersion", async () => {
    const d = await apps.createNamespacedDeployment({ namespace: NS, body: deployment("a") });
    const stale = structuredClone(d);
    d.metadata!.labels = { app: "a", x: "1" };
    await apps.replaceNamespacedDeployment({ name: "a", namespace: NS, body: d });
    stale.metadata!.labels = { app: "a", y: "1" };
    const f = await failure(apps.replaceNamespacedDeployment({ name: "a", namespace: NS, body: stale }));
    expect(f.code).toBe(409);
    expect(f.status).toMatchObject({ reason: "Conflict", details: { name: "a", group: "apps", kind: "deployments" } });
    expect(String(f.status.message)).toContain("the object has been modified");
    // a merge patch that carries a stale resourceVersion is a precondition too
    const p = await failure(
      apps.patchNamespacedDeployment(
        {
          name: "a",
          namespace: NS,
          body: { metadata: { resourceVersion: stale.metadata!.resourceVersion, labels: { z: "1" } } },
        },
        merge,
      ),
    );
    expect(p.code).toBe(409);
  });

  it("rejects a PUT without resourceVersion on a custom resource (422) but allows it on a Deployment", async () => {
    await custom.createNamespacedCustomObject({ ...G, namespace: NS, body: component("c") });
    const f = await failure(
      custom.replaceNamespacedCustomObject({ ...G, namespace: NS, name: "c", body: component("c", { image: "w:2" }) }),
    );
    expect(f.code).toBe(422);
    await apps.createNamespacedDeployment({ namespace: NS, body: deployment("a") });
    const r = await apps.replaceNamespacedDeployment({
      name: "a",
      namespace: NS,
      body: deployment("a", { replicas: 3 }),
    });
    expect(r.spec?.replicas).toBe(3);
  });

  it("defaults spec.replicas to 1 on a Deployment created without it", async () => {
    const d = await apps.createNamespacedDeployment({ namespace: NS, body: deployment("a") });
    expect(d.spec?.replicas).toBe(1);
    expect(d.spec?.strategy?.type).toBe("RollingUpdate");
    const e = await apps.createNamespacedDeployment({ namespace: NS, body: deployment("b", { replicas: 0 }) });
    expect(e.spec?.replicas).toBe(0);
  });

  it("supports merge patch and JSON patch, and a patch that changes nothing does not bump resourceVersion", async () => {
    const d = await apps.createNamespacedDeployment({ namespace: NS, body: deployment("a") });
    const p = await apps.patchNamespacedDeployment(
      { name: "a", namespace: NS, body: { metadata: { labels: { extra: "1" } } } },
      merge,
    );
    expect(p.metadata?.labels).toEqual({ app: "a", extra: "1" });
    expect(p.metadata?.generation).toBe(1); // metadata-only change
    const j = await apps.patchNamespacedDeployment(
      {
        name: "a",
        namespace: NS,
        body: [
          { op: "replace", path: "/spec/replicas", value: 4 },
          { op: "remove", path: "/metadata/labels/extra" },
        ],
      },
      jsonPatch,
    );
    expect(j.spec?.replicas).toBe(4);
    expect(j.metadata?.generation).toBe(2);
    expect(j.metadata?.labels).toEqual({ app: "a" });
    api.resetCounts();
    const same = await apps.patchNamespacedDeployment(
      { name: "a", namespace: NS, body: { spec: { replicas: 4 } } },
      merge,
    );
    expect(same.metadata?.resourceVersion).toBe(j.metadata?.resourceVersion);
    expect(api.writes().total).toBe(0);
    expect(api.mutatingRequests().patch).toBe(1);
    expect(Number(d.metadata?.resourceVersion)).toBeLessThan(Number(same.metadata?.resourceVersion));
  });
});

describe("status subresource and generation", () => {
  it("ignores status on the main resource, changes only status through /status, bumps generation on spec only", async () => {
    const c = (await custom.createNamespacedCustomObject({
      ...G,
      namespace: NS,
      body: { ...component("c"), status: { ready: true } },
    })) as k8s.KubernetesObject & { status?: unknown; spec: Record<string, unknown> };
    expect(c.status).toBeUndefined();
    expect(c.metadata?.generation).toBe(1);

    const s1 = (await custom.patchNamespacedCustomObjectStatus(
      {
        ...G,
        namespace: NS,
        name: "c",
        body: {
          status: { observedGeneration: 1, conditions: [{ type: "Ready", status: "True" }] },
          spec: { image: "hacked" },
        },
      },
      merge,
    )) as { status: Record<string, unknown>; spec: Record<string, unknown>; metadata: k8s.V1ObjectMeta };
    expect(s1.status.observedGeneration).toBe(1);
    expect(s1.spec.image).toBe("w:1");
    expect(s1.metadata.generation).toBe(1);

    const main = (await custom.patchNamespacedCustomObject(
      { ...G, namespace: NS, name: "c", body: { spec: { image: "w:2" }, status: { observedGeneration: 99 } } },
      merge,
    )) as { status: Record<string, unknown>; spec: Record<string, unknown>; metadata: k8s.V1ObjectMeta };
    expect(main.spec.image).toBe("w:2");
    expect(main.status.observedGeneration).toBe(1);
    expect(main.metadata.generation).toBe(2);

    const labelled = (await custom.patchNamespacedCustomObject(
      { ...G, namespace: NS, name: "c", body: { metadata: { labels: { a: "b" } } } },
      merge,
    )) as {
      metadata: k8s.V1ObjectMeta;
    };
    expect(labelled.metadata.generation).toBe(2);

    // PUT on /status with the live object
    const live = (await custom.getNamespacedCustomObject({ ...G, namespace: NS, name: "c" })) as {
      status: Record<string, unknown>;
    };
    live.status = { observedGeneration: 2 };
    const s2 = (await custom.replaceNamespacedCustomObjectStatus({ ...G, namespace: NS, name: "c", body: live })) as {
      status: Record<string, unknown>;
      metadata: k8s.V1ObjectMeta;
    };
    expect(s2.status).toEqual({ observedGeneration: 2 });
    expect(s2.metadata.generation).toBe(2);
  });

  it("keeps Deployment status across a spec update and applies status through /status", async () => {
    await apps.createNamespacedDeployment({ namespace: NS, body: deployment("a") });
    await apps.patchNamespacedDeploymentStatus(
      { name: "a", namespace: NS, body: { status: { readyReplicas: 1, replicas: 1 } } },
      merge,
    );
    const d = await apps.patchNamespacedDeployment(
      { name: "a", namespace: NS, body: { spec: { replicas: 2 } } },
      merge,
    );
    expect(d.status?.readyReplicas).toBe(1);
    expect(d.metadata?.generation).toBe(2);
  });
});

describe("finalizers and deletion", () => {
  it("sets deletionTimestamp while finalizers remain, and removes the object with the last finalizer", async () => {
    await custom.createNamespacedCustomObject({
      ...G,
      namespace: NS,
      body: { ...component("c"), metadata: { name: "c", namespace: NS, finalizers: ["tessera.dev/stream"] } },
    });
    const del = (await custom.deleteNamespacedCustomObject({ ...G, namespace: NS, name: "c" })) as {
      metadata: k8s.V1ObjectMeta;
    };
    expect(del.metadata.deletionTimestamp).toBeDefined();
    const live = (await custom.getNamespacedCustomObject({ ...G, namespace: NS, name: "c" })) as {
      metadata: k8s.V1ObjectMeta;
    };
    expect(live.metadata.deletionTimestamp).toBeDefined();
    expect(live.metadata.generation).toBe(2);
    // deleting again changes nothing
    const again = (await custom.deleteNamespacedCustomObject({ ...G, namespace: NS, name: "c" })) as {
      metadata: k8s.V1ObjectMeta;
    };
    expect(again.metadata.resourceVersion).toBe(live.metadata.resourceVersion);
    // no new finalizers while deleting
    const f = await failure(
      custom.patchNamespacedCustomObject(
        { ...G, namespace: NS, name: "c", body: { metadata: { finalizers: ["tessera.dev/stream", "other"] } } },
        merge,
      ),
    );
    expect(f.code).toBe(422);
    // removing the last finalizer deletes it
    await custom.patchNamespacedCustomObject(
      { ...G, namespace: NS, name: "c", body: { metadata: { finalizers: null } } },
      merge,
    );
    expect((await failure(custom.getNamespacedCustomObject({ ...G, namespace: NS, name: "c" }))).code).toBe(404);
  });

  it("garbage-collects dependents through ownerReferences", async () => {
    const c = (await custom.createNamespacedCustomObject({ ...G, namespace: NS, body: component("c") })) as {
      metadata: k8s.V1ObjectMeta;
    };
    const owned = deployment("c");
    owned.metadata!.ownerReferences = [
      { apiVersion: "tessera.dev/v1alpha1", kind: "Component", name: "c", uid: c.metadata.uid!, controller: true },
    ];
    await apps.createNamespacedDeployment({ namespace: NS, body: owned });
    await custom.deleteNamespacedCustomObject({ ...G, namespace: NS, name: "c" });
    expect(api.store.list("apps/v1", "Deployment", NS)).toHaveLength(0);
  });
});

describe("server-side apply", () => {
  const applied = (replicas?: number): k8s.V1Deployment => {
    const d = deployment("w");
    d.metadata = { name: "w", namespace: NS, labels: { app: "w", tier: "worker" } };
    if (replicas !== undefined) d.spec!.replicas = replicas;
    return d;
  };

  it("creates when absent, and an identical re-apply writes nothing", async () => {
    const first = await ssa(applied());
    expect(first.metadata?.resourceVersion).toBeDefined();
    expect((first as k8s.V1Deployment).spec?.replicas).toBe(1);
    expect(first.metadata?.managedFields?.[0]).toMatchObject({ manager: "tessera-controller", operation: "Apply" });
    api.resetCounts();
    const second = await ssa(applied());
    expect(second.metadata?.resourceVersion).toBe(first.metadata?.resourceVersion);
    expect(api.writes().total).toBe(0);
    expect(api.mutatingRequests().apply).toBe(1);
    expect(api.writeLog()).toEqual([expect.objectContaining({ verb: "apply", changed: false, name: "w" })]);
  });

  it("removes a field the manager applied before and omits now", async () => {
    await ssa(applied());
    const d = applied();
    d.metadata!.labels = { app: "w" };
    const out = await ssa(d);
    expect(out.metadata?.labels).toEqual({ app: "w" });
  });

  it("keeps spec.replicas set by another manager (KEDA) when the controller re-applies without it", async () => {
    await ssa(applied());
    await apps.patchNamespacedDeployment(
      { name: "w", namespace: NS, fieldManager: "keda", body: { spec: { replicas: 7 } } },
      merge,
    );
    api.resetCounts();
    const out = (await ssa(applied())) as k8s.V1Deployment;
    expect(out.spec?.replicas).toBe(7);
    expect(api.writes().total).toBe(0);
    // an image change by the controller still keeps KEDA's replicas
    const d = applied();
    d.spec!.template.spec!.containers[0]!.image = "w:2";
    const out2 = (await ssa(d)) as k8s.V1Deployment;
    expect(out2.spec?.replicas).toBe(7);
    expect(out2.spec?.template.spec?.containers[0]?.image).toBe("w:2");
  });

  it("reports a field-manager conflict without force and takes ownership with force", async () => {
    await ssa(applied());
    await apps.patchNamespacedDeployment(
      { name: "w", namespace: NS, fieldManager: "kubectl-edit", body: { metadata: { labels: { tier: "edited" } } } },
      merge,
    );
    const f = await failure(ssa(applied(), "tessera-controller", false));
    expect(f.code).toBe(409);
    expect(f.status.reason).toBe("Conflict");
    expect(String(f.status.message)).toContain('conflict with "kubectl-edit"');
    expect(String(f.status.message)).toContain(".metadata.labels.tier");
    const out = await ssa(applied(), "tessera-controller", true);
    expect(out.metadata?.labels?.tier).toBe("worker");
  });

  it("applies YAML bodies and custom resources through the status subresource", async () => {
    const res = await fetch(`${api.url}/apis/tessera.dev/v1alpha1/namespaces/${NS}/components/y?fieldManager=m`, {
      method: "PATCH",
      headers: { "content-type": "application/apply-patch+yaml" },
      body: "apiVersion: tessera.dev/v1alpha1\nkind: Component\nmetadata:\n  name: y\nspec:\n  image: w:1\n",
    });
    expect(res.status).toBe(201);
    const st = await fetch(`${api.url}/apis/tessera.dev/v1alpha1/namespaces/${NS}/components/y/status?fieldManager=m`, {
      method: "PATCH",
      headers: { "content-type": "application/apply-patch+yaml" },
      body: JSON.stringify({
        apiVersion: "tessera.dev/v1alpha1",
        kind: "Component",
        metadata: { name: "y" },
        status: { observedGeneration: 1 },
        spec: { image: "x" },
      }),
    });
    expect(st.status).toBe(200);
    const body = (await st.json()) as { spec: { image: string }; status: { observedGeneration: number } };
    expect(body).toMatchObject({ spec: { image: "w:1" }, status: { observedGeneration: 1 } });
    const noManager = await fetch(`${api.url}/apis/tessera.dev/v1alpha1/namespaces/${NS}/components/y`, {
      method: "PATCH",
      headers: { "content-type": "application/apply-patch+yaml" },
      body: "{}",
    });
    expect(noManager.status).toBe(400);
  });

  it("discovers plural names for KubernetesObjectApi (namespaces, NetworkPolicy, ScaledObject)", async () => {
    await ssa({ apiVersion: "v1", kind: "Namespace", metadata: { name: "team" } });
    await ssa({
      apiVersion: "networking.k8s.io/v1",
      kind: "NetworkPolicy",
      metadata: { name: "deny", namespace: "team" },
      spec: { podSelector: {} },
    } as k8s.KubernetesObject);
    await ssa({
      apiVersion: "keda.sh/v1alpha1",
      kind: "ScaledObject",
      metadata: { name: "so", namespace: "team" },
      spec: { scaleTargetRef: { name: "w" } },
    } as k8s.KubernetesObject);
    expect(api.store.list("networking.k8s.io/v1", "NetworkPolicy", "team")).toHaveLength(1);
    expect(api.store.list("keda.sh/v1alpha1", "ScaledObject", "team")).toHaveLength(1);
    const ns = await objects.read({ apiVersion: "v1", kind: "Namespace", metadata: { name: "team" } });
    expect((ns as k8s.V1Namespace).status?.phase).toBe("Active");
  });

  it("registers the served versions of a CustomResourceDefinition created through the API", async () => {
    await ssa({
      apiVersion: "apiextensions.k8s.io/v1",
      kind: "CustomResourceDefinition",
      metadata: { name: "widgets.example.com" },
      spec: {
        group: "example.com",
        scope: "Namespaced",
        names: { plural: "widgets", singular: "widget", kind: "Widget" },
        versions: [{ name: "v1", served: true, storage: true, subresources: { status: {} } }],
      },
    } as k8s.KubernetesObject);
    const w = await ssa({ apiVersion: "example.com/v1", kind: "Widget", metadata: { name: "w1", namespace: NS } });
    expect(w.metadata?.uid).toBeDefined();
  });
});

describe("watch", () => {
  type Ev = { type: string; object: k8s.KubernetesObject & { code?: number; reason?: string } };
  function watch(path: string, query: Record<string, string>) {
    const events: Ev[] = [];
    let done: unknown = "open";
    const ctl = new k8s.Watch(kc).watch(
      path,
      query,
      (type, object) => events.push({ type, object: object as Ev["object"] }),
      (err) => {
        done = err ?? null;
      },
    );
    return { events, ctl, done: () => done };
  }
  const until = async (cond: () => boolean, ms = 3000) => {
    const t0 = Date.now();
    while (!cond()) {
      if (Date.now() - t0 > ms) throw new Error("timed out");
      await new Promise((r) => setTimeout(r, 10));
    }
  };

  it("streams ADDED, MODIFIED and DELETED from a resourceVersion", async () => {
    const rv = String(api.store.resourceVersion());
    const w = watch(`/apis/apps/v1/namespaces/${NS}/deployments`, { resourceVersion: rv });
    await until(() => api.openWatches() === 1);
    await apps.createNamespacedDeployment({ namespace: NS, body: deployment("a") });
    await apps.patchNamespacedDeployment({ name: "a", namespace: NS, body: { spec: { replicas: 3 } } }, merge);
    await apps.patchNamespacedDeployment({ name: "a", namespace: NS, body: { spec: { replicas: 3 } } }, merge); // no-op: no event
    await apps.deleteNamespacedDeployment({ name: "a", namespace: NS });
    await until(() => w.events.length >= 3);
    expect(w.events.map((e) => e.type)).toEqual(["ADDED", "MODIFIED", "DELETED"]);
    const rvs = w.events.map((e) => Number(e.object.metadata?.resourceVersion));
    expect(rvs).toEqual([...rvs].sort((a, b) => a - b));
    (await w.ctl).abort();
  });

  it("replays current objects as ADDED without a resourceVersion and resumes from one with retained events", async () => {
    await apps.createNamespacedDeployment({ namespace: NS, body: deployment("a") });
    const mid = String(api.store.resourceVersion());
    await apps.createNamespacedDeployment({ namespace: NS, body: deployment("b") });
    const all = watch(`/apis/apps/v1/deployments`, {});
    const resumed = watch(`/apis/apps/v1/namespaces/${NS}/deployments`, { resourceVersion: mid });
    const selected = watch(`/apis/apps/v1/namespaces/${NS}/deployments`, { labelSelector: "app=b" });
    await until(() => all.events.length === 2 && resumed.events.length === 1 && selected.events.length === 1);
    expect(resumed.events[0]!.object.metadata?.name).toBe("b");
    expect(selected.events[0]!.object.metadata?.name).toBe("b");
    for (const w of [all, resumed, selected]) (await w.ctl).abort();
  });

  it("answers 410 Gone (an ERROR event with reason Expired) for a resourceVersion older than the retained window", async () => {
    const small = await startFakeKubeApi({ watchWindow: 3 });
    try {
      const kc2 = await small.kubeConfig();
      const a2 = kc2.makeApiClient(k8s.AppsV1Api);
      const old = String(small.store.resourceVersion());
      for (const n of ["a", "b", "c", "d"]) await a2.createNamespacedDeployment({ namespace: NS, body: deployment(n) });
      const events: Ev[] = [];
      let done: unknown = "open";
      await new k8s.Watch(kc2).watch(
        `/apis/apps/v1/namespaces/${NS}/deployments`,
        { resourceVersion: old },
        (type, object) => events.push({ type, object: object as Ev["object"] }),
        (err) => (done = err ?? null),
      );
      await until(() => done !== "open");
      expect(events).toHaveLength(1);
      expect(events[0]!.type).toBe("ERROR");
      expect(events[0]!.object).toMatchObject({ kind: "Status", code: 410, reason: "Expired" });
      // compaction makes any earlier resourceVersion too old
      small.compact();
      const res = await fetch(
        `${small.url}/apis/apps/v1/namespaces/${NS}/deployments?watch=true&resourceVersion=${Number(old) + 3}`,
      );
      expect(await res.text()).toContain('"code":410');
    } finally {
      await small.close();
    }
  });

  it("answers a watch with headers at once, as kube-apiserver does, or holds them until the first event when asked", async () => {
    const path = `/apis/apps/v1/namespaces/${NS}/deployments?watch=true&resourceVersion=${api.store.resourceVersion()}`;
    const answered = await fetch(`${api.url}${path}`);
    expect(answered.status).toBe(200);
    await answered.body?.cancel();

    const held = await startFakeKubeApi({ watchHeaders: "with-first-event" });
    try {
      let status: number | "pending" = "pending";
      const response = fetch(
        `${held.url}/apis/apps/v1/namespaces/${NS}/deployments?watch=true&resourceVersion=${held.store.resourceVersion()}`,
      ).then((r) => {
        status = r.status;
        return r;
      });
      await until(() => held.openWatches() === 1);
      await new Promise((r) => setTimeout(r, 200));
      expect(status).toBe("pending");
      held.store.put(deployment("first") as never);
      await (await response).body?.cancel();
      expect(status).toBe(200);
    } finally {
      await held.close();
    }
  });

  it("drops open watches on demand (connection reset) and sends bookmarks", async () => {
    const w = watch(`/apis/apps/v1/namespaces/${NS}/deployments`, {
      allowWatchBookmarks: "true",
      resourceVersion: String(api.store.resourceVersion()),
    });
    await until(() => api.openWatches() === 1);
    api.sendBookmarks();
    await until(() => w.events.length === 1);
    expect(w.events[0]!.type).toBe("BOOKMARK");
    expect(w.events[0]!.object.metadata?.resourceVersion).toBe(String(api.store.resourceVersion()));
    expect(api.dropWatches()).toBe(1);
    await until(() => w.done() !== "open");
    expect(api.openWatches()).toBe(0);
  });
});

describe("failure injection and counters", () => {
  it("fails the next N matching requests with 500 or 429 + Retry-After", async () => {
    api.failNext(2, { code: 500 });
    expect((await failure(apps.listNamespacedDeployment({ namespace: NS }))).code).toBe(500);
    const second = await failure(apps.listNamespacedDeployment({ namespace: NS }));
    expect(second.status).toMatchObject({ reason: "InternalError", code: 500 });
    await apps.listNamespacedDeployment({ namespace: NS });

    api.failNext(1, { code: 429, retryAfterSeconds: 2, match: (r) => r.method === "POST" });
    await apps.listNamespacedDeployment({ namespace: NS }); // not matched
    const f = await failure(apps.createNamespacedDeployment({ namespace: NS, body: deployment("a") }));
    expect(f.code).toBe(429);
    expect(f.status.reason).toBe("TooManyRequests");
    await apps.createNamespacedDeployment({ namespace: NS, body: deployment("a") });
    expect(api.mutatingRequests().create).toBe(2);
    expect(api.writes().create).toBe(1);
  });

  it("dryRun=All stores nothing", async () => {
    const res = await fetch(`${api.url}/apis/apps/v1/namespaces/${NS}/deployments?dryRun=All`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(deployment("dry")),
    });
    expect(res.status).toBe(201);
    expect(((await res.json()) as k8s.V1Deployment).spec?.replicas).toBe(1);
    expect(api.store.get({ apiVersion: "apps/v1", kind: "Deployment", namespace: NS, name: "dry" })).toBeUndefined();
  });

  it("store access bypasses HTTP and counters but still emits watch events", async () => {
    api.store.put({
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: "seed", namespace: NS },
      spec: { replicas: 2 },
      status: { readyReplicas: 2 },
    });
    const d = await apps.readNamespacedDeployment({ name: "seed", namespace: NS });
    expect(d.status?.readyReplicas).toBe(2);
    expect(api.writes().total).toBe(0);
    expect(api.mutatingRequests().total).toBe(0);
    expect(api.store.remove({ apiVersion: "apps/v1", kind: "Deployment", namespace: NS, name: "seed" })).toBe(true);
  });
});
