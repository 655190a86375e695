import * as k8s from "@kubernetes/client-node";
import { startFakeKubeApi } from "@tessera/kube-fake";
import {
  startControlPlane,
  waitFor,
  type ControlPlane,
  type ControlPlaneOptions,
  type KubeResponse,
} from "@tessera/testkit";
import { COMPONENT_CRD_NAME, componentCrdYaml } from "../src/crd/index.js";
import type { RenderContext } from "../src/render/context.js";

const CRDS = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions";

/** Where rendered objects say NATS is when nothing reads it (no pod runs); the KEDA test names its real server. */
export const IN_CLUSTER_NATS: RenderContext = {
  nats: {
    url: "nats://nats.nats.svc:4222",
    monitoringEndpoint: "nats.nats.svc:8222",
    namespace: "nats",
    podLabels: { "app.kubernetes.io/name": "nats" },
  },
};

export interface InstalledCrd {
  metadata: { name: string };
  status: { conditions: { type: string; status: string; reason?: string; message?: string }[] };
}

/**
 * Creates the Component CRD from the YAML `tessera render --crd` prints (sent as YAML, as kubectl would) and
 * waits until the API server serves it.
 */
export async function installComponentCrd(cp: ControlPlane): Promise<InstalledCrd> {
  const created = await cp.request("POST", CRDS, componentCrdYaml(), "application/yaml");
  if (created.status !== 201 && created.status !== 409)
    throw new Error(`the Component CRD was refused: ${created.status} ${JSON.stringify(created.body)}`);
  return waitFor(
    "the Component CRD to be Established",
    async () => {
      const crd = (await cp.request("GET", `${CRDS}/${COMPONENT_CRD_NAME}`)).body as InstalledCrd;
      return crd.status?.conditions?.some((c) => c.type === "Established" && c.status === "True") ? crd : undefined;
    },
    30_000,
    100,
  );
}

/**
 * An API server the scenarios run against, real or imitated: the parity suite runs the same scenarios on both,
 * so every behaviour kube-fake imitates is checked against kube-apiserver at least once.
 */
export interface ApiBackend {
  name: "kube-apiserver" | "kube-fake";
  kubeConfig: k8s.KubeConfig;
  request(method: string, path: string, body?: unknown, contentType?: string): Promise<KubeResponse>;
  createNamespace(name: string, labels?: Record<string, string>): Promise<void>;
  /** The real control plane, when this backend is one. */
  controlPlane?: ControlPlane;
  stop(): Promise<void>;
}

async function createNamespace(
  backend: Pick<ApiBackend, "request">,
  name: string,
  labels: Record<string, string> = {},
) {
  const res = await backend.request("POST", "/api/v1/namespaces", { metadata: { name, labels } });
  if (res.status !== 201) throw new Error(`namespace ${name}: ${res.status} ${JSON.stringify(res.body)}`);
}

/** A real control plane with the Component CRD installed (KEDA's CRDs too, so ScaledObjects can be applied). */
export async function realBackend(opts: ControlPlaneOptions = {}): Promise<ApiBackend> {
  const cp = await startControlPlane({ kedaCrds: true, ...opts });
  try {
    await installComponentCrd(cp);
  } catch (err) {
    await cp.stop();
    throw err;
  }
  const kubeConfig = new k8s.KubeConfig();
  kubeConfig.loadFromFile(cp.kubeconfigPath);
  const backend: ApiBackend = {
    name: "kube-apiserver",
    kubeConfig,
    request: cp.request,
    createNamespace: (name, labels) => createNamespace(backend, name, labels),
    controlPlane: cp,
    stop: cp.stop,
  };
  return backend;
}

/** @tessera/kube-fake, the in-memory imitation the unit tests use. */
export async function fakeBackend(): Promise<ApiBackend> {
  const fake = await startFakeKubeApi();
  const request = async (method: string, path: string, body?: unknown, contentType = "application/json") => {
    const res = await fetch(new URL(path, fake.url), {
      method,
      headers: body === undefined ? {} : { "content-type": contentType },
      ...(body === undefined ? {} : { body: typeof body === "string" ? body : JSON.stringify(body) }),
    });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      // not JSON
    }
    return { status: res.status, body: parsed };
  };
  const backend: ApiBackend = {
    name: "kube-fake",
    kubeConfig: await fake.kubeConfig(),
    request,
    createNamespace: (name, labels) => createNamespace(backend, name, labels),
    stop: () => fake.close(),
  };
  return backend;
}

const PLURALS: Record<string, string> = {
  Namespace: "namespaces",
  CustomResourceDefinition: "customresourcedefinitions",
  ServiceAccount: "serviceaccounts",
  ClusterRole: "clusterroles",
  ClusterRoleBinding: "clusterrolebindings",
  Role: "roles",
  RoleBinding: "rolebindings",
  Deployment: "deployments",
};

/**
 * Server-side apply of a manifest as `kubectl apply --server-side` sends it: the object as written. Not through
 * client-node's KubernetesObjectApi, whose typed serializer drops what its models spell differently (a CRD
 * schema's `default`, seen on the real server: the defaults vanished and `inputMode` became required).
 */
export async function applyManifest(
  backend: Pick<ApiBackend, "request">,
  object: { apiVersion: string; kind: string; metadata: { name: string; namespace?: string } },
): Promise<void> {
  const plural = PLURALS[object.kind];
  if (plural === undefined) throw new Error(`applyManifest: no plural known for ${object.kind}`);
  const base = object.apiVersion.includes("/") ? `/apis/${object.apiVersion}` : `/api/${object.apiVersion}`;
  const ns = object.metadata.namespace !== undefined ? `/namespaces/${object.metadata.namespace}` : "";
  const res = await backend.request(
    "PATCH",
    `${base}${ns}/${plural}/${object.metadata.name}?fieldManager=kubectl&force=true`,
    JSON.stringify(object),
    "application/apply-patch+yaml",
  );
  if (res.status !== 200 && res.status !== 201)
    throw new Error(`apply ${object.kind}/${object.metadata.name}: ${res.status} ${JSON.stringify(res.body)}`);
}
