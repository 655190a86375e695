/**
 * `tessera promote` / `tessera abort` against the in-memory API server, with the controller's reconcile run
 * between steps (its stream provisioning stubbed: this is about the Kubernetes objects). The real API server and
 * a running controller are in packages/controller/test-cluster/canary.test.ts.
 */
import * as k8s from "@kubernetes/client-node";
import { canaryWorkloadName, type ComponentSpec } from "@tessera/contract";
import {
  COMPONENT_GROUP,
  COMPONENT_PLURAL,
  COMPONENT_VERSION,
  KubeAccess,
  reconcileComponent,
  type ReconcileCounters,
} from "@tessera/controller";
import { startFakeKubeApi, type FakeKubeApi } from "@tessera/kube-fake";
import { stringify } from "yaml";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { runTessera, startTessera } from "./helpers/run-tessera.js";
import { NO_STREAMS, RENDER } from "./helpers/fake-cluster.js";
import { tempFiles } from "./helpers/temp-files.js";

const spec: ComponentSpec = {
  image: "example/extract:1",
  inputMode: "content-ref",
  egress: "none",
  config: { MODE: "fast", LEVEL: "1" },
  scaling: { minReplicas: 0, maxReplicas: 10, queueDepthTarget: 10 },
  canary: { image: "example/extract:2", config: { MODE: "careful" }, weight: 20 },
};
const ref = { group: COMPONENT_GROUP, version: COMPONENT_VERSION, namespace: "docs", plural: COMPONENT_PLURAL };

let fake: FakeKubeApi;
let custom: k8s.CustomObjectsApi;
let kubeconfig: string;
let counters: ReconcileCounters;
let reconcile: () => Promise<void>;

beforeEach(async () => {
  fake = await startFakeKubeApi({ namespaces: "auto" });
  const kc = await fake.kubeConfig();
  custom = kc.makeApiClient(k8s.CustomObjectsApi);
  const kube = new KubeAccess(kc);
  counters = { applies: 0, skipped: 0, statusWrites: 0, finalizerWrites: 0, deletes: 0 };
  reconcile = () => reconcileComponent({ kube, streams: NO_STREAMS, render: RENDER, counters }, "docs", "extract");
  const options = fake.kubeConfigOptions("docs");
  const cluster = options.clusters[0]!;
  const dir = await tempFiles({
    kubeconfig: stringify({
      apiVersion: "v1",
      kind: "Config",
      clusters: [{ name: cluster.name, cluster: { server: cluster.server, "insecure-skip-tls-verify": true } }],
      users: options.users.map((u) => ({ name: u.name, user: { token: u.token } })),
      contexts: options.contexts.map((c) => ({
        name: c.name,
        context: { cluster: c.cluster, user: c.user, namespace: c.namespace },
      })),
      "current-context": options.currentContext,
    }),
  });
  kubeconfig = `${dir}/kubeconfig`;
  await custom.createNamespacedCustomObject({
    ...ref,
    body: {
      apiVersion: `${COMPONENT_GROUP}/${COMPONENT_VERSION}`,
      kind: "Component",
      metadata: { name: "extract" },
      spec,
    },
  });
  await reconcile();
});
afterEach(async () => {
  await fake.close();
});

const deployment = (name: string) =>
  fake.store.get({ apiVersion: "apps/v1", kind: "Deployment", namespace: "docs", name }) as
    | {
        spec: {
          template: {
            spec: {
              containers: {
                image: string;
                env: {
                  name: string;
                  value?: string;
                  valueFrom?: { configMapKeyRef?: { name: string; key: string } };
                }[];
              }[];
            };
          };
        };
      }
    | undefined;
const scaledObject = (name: string) =>
  fake.store.get({ apiVersion: "keda.sh/v1alpha1", kind: "ScaledObject", namespace: "docs", name });
const liveSpec = async () =>
  ((await custom.getNamespacedCustomObject({ ...ref, name: "extract" })) as { spec: ComponentSpec }).spec;
const canary = canaryWorkloadName("extract");

describe("tessera promote and abort", () => {
  it("abort removes spec.canary; the controller then deletes the canary's Deployment and ScaledObject, and stays idle", async () => {
    expect(deployment(canary)?.spec.template.spec.containers[0]?.image).toBe("example/extract:2");
    expect(scaledObject(canary)).toBeDefined();

    const r = await runTessera(["abort", "extract", "--kubeconfig", kubeconfig]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(
      "aborted the canary of docs/extract: it ran example/extract:2; the component stays on example/extract:1",
    );
    const { canary: _dropped, ...withoutCanary } = spec;
    expect(await liveSpec()).toEqual(withoutCanary);

    await reconcile();
    expect(counters.deletes).toBe(2);
    expect(deployment(canary)).toBeUndefined();
    expect(scaledObject(canary)).toBeUndefined();
    expect(deployment("extract")?.spec.template.spec.containers[0]?.image).toBe("example/extract:1");

    // A pass with nothing to change writes nothing (the canary check only reads).
    fake.resetCounts();
    await reconcile();
    expect(fake.writes().total).toBe(0);

    const again = await runTessera(["abort", "extract", "--kubeconfig", kubeconfig]);
    expect(again.code).toBe(5);
    expect(again.stderr).toContain("component docs/extract has no canary (spec.canary) to abort");
  });

  it("promote makes the canary's image and merged config the component's, and --wait sees the canary removed", async () => {
    const running = startTessera(["promote", "extract", "-n", "docs", "--kubeconfig", kubeconfig, "--wait", "20"]);
    // The controller's next pass (here by hand) observes the new generation and deletes the canary.
    await new Promise((resolve) => setTimeout(resolve, 300));
    await reconcile();
    const r = await running.result;
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(
      "promoted the canary of docs/extract: image example/extract:2, config keys changed: MODE",
    );
    expect(r.stdout).toContain(`the controller removed Deployment ${canary}`);
    // Values are not printed, only key names.
    expect(r.stdout).not.toContain("careful");
    const promoted = await liveSpec();
    expect(promoted.canary).toBeUndefined();
    expect(promoted.image).toBe("example/extract:2");
    expect(promoted.config).toEqual({ MODE: "careful", LEVEL: "1" });
    // The write names who promoted and when, so the revision the controller records for it does too.
    const annotations =
      (
        (await custom.getNamespacedCustomObject({ ...ref, name: "extract" })) as {
          metadata: { annotations?: Record<string, string> };
        }
      ).metadata.annotations ?? {};
    expect(annotations["tessera.dev/deployed-by"]).toMatch(/.+/);
    expect(Date.now() - Date.parse(annotations["tessera.dev/deployed-at"] ?? "")).toBeLessThan(60_000);
    expect(annotations["tessera.dev/rollback-of"]).toBeUndefined();
    const env = deployment("extract")?.spec.template.spec.containers[0]?.env ?? [];
    expect(deployment("extract")?.spec.template.spec.containers[0]?.image).toBe("example/extract:2");
    // Config reaches the workers from the revision's immutable ConfigMap (configMapKeyRef), not as a literal value.
    const mode = env.find((e) => e.name === "MODE")?.valueFrom?.configMapKeyRef;
    const configMap = fake.store.get({
      apiVersion: "v1",
      kind: "ConfigMap",
      namespace: "docs",
      name: mode?.name ?? "",
    }) as { data?: Record<string, string> } | undefined;
    expect(configMap?.data?.[mode?.key ?? ""]).toBe("careful");
    expect(deployment(canary)).toBeUndefined();
  });

  it("names what is missing: an unknown component, a context that does not exist", async () => {
    const missing = await runTessera(["promote", "nope", "--kubeconfig", kubeconfig]);
    expect(missing.code).toBe(4);
    expect(missing.stderr).toContain("component docs/nope not found in the cluster");
    const context = await runTessera(["abort", "extract", "--kubeconfig", kubeconfig, "--context", "elsewhere"]);
    expect(context.code).toBe(2);
    expect(context.stderr).toContain('--context "elsewhere": no such context in the kubeconfig');
  });
});
