import * as k8s from "@kubernetes/client-node";
import {
  COMPONENT_GROUP,
  COMPONENT_PLURAL,
  COMPONENT_VERSION,
  KubeAccess,
  reconcileComponent,
  type ReconcileCounters,
  type RenderContext,
  type StreamProvisioner,
} from "@tessera/controller";
import { startFakeKubeApi, type FakeKubeApi } from "@tessera/kube-fake";
import { stringify } from "yaml";
import { tempFiles } from "./temp-files.js";

export const RENDER: RenderContext = {
  nats: {
    url: "nats://nats.nats.svc:4222",
    monitoringEndpoint: "nats.nats.svc:8222",
    namespace: "nats",
    podLabels: { "app.kubernetes.io/name": "nats" },
  },
};
/** Stream provisioning stubbed: these tests are about the Kubernetes objects. */
export const NO_STREAMS: StreamProvisioner = {
  ensureComponent: async () => undefined,
  removeComponent: async () => undefined,
  isConnected: () => true,
};

/** A kube-fake API server, a kubeconfig file for it, and the controller's reconcile run by hand or in a loop. */
export interface FakeCluster {
  fake: FakeKubeApi;
  kubeconfig: string;
  custom: k8s.CustomObjectsApi;
  /** One controller pass over every Component, then "KEDA" scales idle Deployments to 0 (except `stuck` ones). */
  pass(): Promise<void>;
  /** Runs `pass` every 100 ms until the returned stop is called (a controller running beside a command). */
  run(): () => Promise<void>;
  /** Components whose Deployment KEDA leaves at 1 replica: with no kubelet they never become ready. */
  stuck: Set<string>;
  close(): Promise<void>;
}

/** Writes a kubeconfig file for one or more fakes, one context each (named as given). */
export async function kubeconfigFile(fakes: Record<string, FakeKubeApi>, namespace: string): Promise<string> {
  const entries = Object.entries(fakes).map(([name, fake]) => {
    const options = fake.kubeConfigOptions(namespace);
    return { name, server: options.clusters[0]!.server, token: options.users[0]!.token };
  });
  const dir = await tempFiles({
    kubeconfig: stringify({
      apiVersion: "v1",
      kind: "Config",
      clusters: entries.map((e) => ({ name: e.name, cluster: { server: e.server, "insecure-skip-tls-verify": true } })),
      users: entries.map((e) => ({ name: e.name, user: { token: e.token } })),
      contexts: entries.map((e) => ({ name: e.name, context: { cluster: e.name, user: e.name, namespace } })),
      "current-context": entries[0]!.name,
    }),
  });
  return `${dir}/kubeconfig`;
}

export async function startFakeCluster(namespace = "docs"): Promise<FakeCluster> {
  const fake = await startFakeKubeApi({ namespaces: "auto" });
  const kc = await fake.kubeConfig();
  const custom = kc.makeApiClient(k8s.CustomObjectsApi);
  const apps = kc.makeApiClient(k8s.AppsV1Api);
  const kube = new KubeAccess(kc);
  const counters: ReconcileCounters = { applies: 0, skipped: 0, statusWrites: 0, finalizerWrites: 0, deletes: 0 };
  const stuck = new Set<string>();
  const kubeconfig = await kubeconfigFile({ fake }, namespace);
  const pass = async (): Promise<void> => {
    const list = (await custom.listNamespacedCustomObject({
      group: COMPONENT_GROUP,
      version: COMPONENT_VERSION,
      plural: COMPONENT_PLURAL,
      namespace,
    })) as { items: { metadata: { name: string } }[] };
    for (const c of list.items) {
      await reconcileComponent({ kube, streams: NO_STREAMS, render: RENDER, counters }, namespace, c.metadata.name);
      if (stuck.has(c.metadata.name)) continue;
      const d = fake.store.get({ apiVersion: "apps/v1", kind: "Deployment", namespace, name: c.metadata.name }) as
        { spec?: { replicas?: number } } | undefined;
      if (d !== undefined && d.spec?.replicas !== 0) {
        await apps.patchNamespacedDeployment(
          { name: c.metadata.name, namespace, body: { spec: { replicas: 0 } }, fieldManager: "keda" },
          k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.MergePatch),
        );
        await reconcileComponent({ kube, streams: NO_STREAMS, render: RENDER, counters }, namespace, c.metadata.name);
      }
    }
  };
  const run = (): (() => Promise<void>) => {
    let stopped = false;
    const loop = (async () => {
      while (!stopped) {
        try {
          await pass();
        } catch {
          // a Component deleted mid-pass; the next pass sees the new state
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    return async () => {
      stopped = true;
      await loop;
    };
  };
  return { fake, kubeconfig, custom, pass, run, stuck, close: () => fake.close() };
}
