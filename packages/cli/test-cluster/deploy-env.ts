import * as k8s from "@kubernetes/client-node";
import type { Bus } from "@tessera/bus";
import {
  COMPONENT_CRD_NAME,
  KubeAccess,
  componentCrdYaml,
  startController,
  type Controller,
  type RenderContext,
} from "@tessera/controller";
import { startControlPlane, waitFor, type ControlPlane, type NatsServerHandle } from "@tessera/testkit";

const CRDS = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions";

/** A real control plane (API server, controller-manager, KEDA) with the Tessera controller running against it. */
export interface DeployCluster {
  api: ControlPlane;
  kubeconfigPath: string;
  controller: Controller;
  stop(): Promise<void>;
}

export async function startDeployCluster(
  nats: NatsServerHandle,
  bus: Bus,
  namespaces: readonly string[],
): Promise<DeployCluster> {
  const api = await startControlPlane({ controllerManager: true, keda: true });
  try {
    // The CRD as `tessera render --crd` prints it, sent as YAML as kubectl would.
    const created = await api.request("POST", CRDS, componentCrdYaml(), "application/yaml");
    if (created.status !== 201) throw new Error(`the Component CRD was refused: ${created.status}`);
    await waitFor(
      "the Component CRD to be Established",
      async () => {
        const crd = (await api.request("GET", `${CRDS}/${COMPONENT_CRD_NAME}`)).body as {
          status?: { conditions?: { type: string; status: string }[] };
        };
        return crd.status?.conditions?.some((c) => c.type === "Established" && c.status === "True") ? true : undefined;
      },
      30_000,
      100,
    );
    for (const ns of namespaces) {
      const res = await api.request("POST", "/api/v1/namespaces", { metadata: { name: ns } });
      if (res.status !== 201) throw new Error(`namespace ${ns}: ${res.status}`);
    }
  } catch (err) {
    await api.stop();
    throw err;
  }
  const kubeConfig = new k8s.KubeConfig();
  kubeConfig.loadFromFile(api.kubeconfigPath);
  const render: RenderContext = {
    nats: {
      url: nats.url,
      monitoringEndpoint: nats.monitoringHostPort,
      namespace: "nats",
      podLabels: { "app.kubernetes.io/name": "nats" },
    },
  };
  const controller = startController({ kube: new KubeAccess(kubeConfig), streams: bus, render, concurrency: 2 });
  return {
    api,
    kubeconfigPath: api.kubeconfigPath,
    controller,
    stop: async () => {
      await controller.stop();
      await api.stop();
    },
  };
}

/** GET that answers undefined for 404 and throws for any other failure. */
export async function getObject<T>(api: ControlPlane, path: string): Promise<T | undefined> {
  const res = await api.request("GET", path);
  if (res.status === 404) return undefined;
  if (res.status !== 200) throw new Error(`GET ${path}: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body as T;
}

/**
 * The resourceVersion of every object a deploy may write, by kind/name: the Component, its Deployment and
 * ScaledObject, and every ConfigMap and ControllerRevision in the namespace. Equal before and after means no write.
 */
export async function resourceVersions(
  api: ControlPlane,
  ns: string,
  component: string,
): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const one = async (kind: string, path: string) => {
    const o = await getObject<{ metadata: { resourceVersion: string } }>(api, path);
    if (o !== undefined) out[`${kind}/${component}`] = o.metadata.resourceVersion;
  };
  await one("Component", `/apis/tessera.dev/v1alpha1/namespaces/${ns}/components/${component}`);
  await one("Deployment", `/apis/apps/v1/namespaces/${ns}/deployments/${component}`);
  await one("ScaledObject", `/apis/keda.sh/v1alpha1/namespaces/${ns}/scaledobjects/${component}`);
  for (const [kind, path] of [
    ["ConfigMap", `/api/v1/namespaces/${ns}/configmaps`],
    ["ControllerRevision", `/apis/apps/v1/namespaces/${ns}/controllerrevisions`],
  ] as const) {
    const list = await getObject<{ items: { metadata: { name: string; resourceVersion: string } }[] }>(api, path);
    for (const item of list?.items ?? []) out[`${kind}/${item.metadata.name}`] = item.metadata.resourceVersion;
  }
  return out;
}

/**
 * resourceVersions once nothing has moved for `quietMs`: KEDA's scale to zero and the Deployment controller's
 * status writes follow a deploy by a few seconds, and must not be counted as the next command's writes.
 */
export async function settledResourceVersions(
  api: ControlPlane,
  ns: string,
  component: string,
  quietMs = 3_000,
): Promise<Record<string, string>> {
  let last = await resourceVersions(api, ns, component);
  let quietSince = Date.now();
  const deadline = Date.now() + 90_000;
  while (Date.now() - quietSince < quietMs) {
    if (Date.now() > deadline) throw new Error(`the objects of ${ns}/${component} never stopped changing`);
    await new Promise((r) => setTimeout(r, 500));
    const now = await resourceVersions(api, ns, component);
    if (JSON.stringify(now) !== JSON.stringify(last)) {
      last = now;
      quietSince = Date.now();
    }
  }
  return last;
}
