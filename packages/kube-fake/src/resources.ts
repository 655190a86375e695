import { isObject, type JsonObject } from "./fields.js";

export interface ResourceDef {
  /** "" for the core group. */
  group: string;
  version: string;
  plural: string;
  kind: string;
  namespaced: boolean;
  /** Has a `/status` subresource: the main resource ignores `status`, `/status` changes only `status`. */
  statusSubresource?: boolean;
  /**
   * Served like a CustomResourceDefinition: PUT without metadata.resourceVersion is rejected (422), DELETE returns the
   * object, list items carry apiVersion/kind, strategic merge patch is refused (415).
   */
  custom?: boolean;
  /** Update validation: a message refuses the write with 422 Invalid (as the real server's ValidateUpdate does). */
  validateUpdate?: (live: JsonObject, next: JsonObject) => string | undefined;
  /** Server-side defaulting, run after every write (like the real API server's decode-time defaulting). */
  defaults?: (obj: JsonObject) => void;
  singular?: string;
  shortNames?: string[];
}

export function apiVersionOf(def: ResourceDef): string {
  return def.group ? `${def.group}/${def.version}` : def.version;
}

/** `deployments.apps`, `configmaps`: how the real server names a resource in error messages. */
export function qualifiedName(def: ResourceDef): string {
  return def.group ? `${def.plural}.${def.group}` : def.plural;
}

function obj(o: JsonObject, k: string): JsonObject {
  const v = o[k];
  if (isObject(v)) return v;
  const n: JsonObject = {};
  o[k] = n;
  return n;
}

/** The defaults apps/v1 Deployment gets from the real API server that a controller is likely to trip over. */
export function defaultDeployment(d: JsonObject): void {
  const spec = obj(d, "spec");
  if (spec.replicas === undefined || spec.replicas === null) spec.replicas = 1;
  if (spec.revisionHistoryLimit === undefined) spec.revisionHistoryLimit = 10;
  if (spec.progressDeadlineSeconds === undefined) spec.progressDeadlineSeconds = 600;
  const strategy = obj(spec, "strategy");
  if (strategy.type === undefined) strategy.type = "RollingUpdate";
  if (strategy.type === "RollingUpdate") {
    const ru = obj(strategy, "rollingUpdate");
    if (ru.maxUnavailable === undefined) ru.maxUnavailable = "25%";
    if (ru.maxSurge === undefined) ru.maxSurge = "25%";
  }
  const template = spec.template;
  if (isObject(template)) {
    const pod = obj(template, "spec");
    if (pod.restartPolicy === undefined) pod.restartPolicy = "Always";
    if (pod.terminationGracePeriodSeconds === undefined) pod.terminationGracePeriodSeconds = 30;
    if (pod.dnsPolicy === undefined) pod.dnsPolicy = "ClusterFirst";
    if (pod.schedulerName === undefined) pod.schedulerName = "default-scheduler";
    if (pod.securityContext === undefined) pod.securityContext = {};
  }
}

/** An immutable ConfigMap or Secret keeps its data, and stays immutable (the real server's message). */
export function immutableData(live: JsonObject, next: JsonObject): string | undefined {
  if (live.immutable !== true) return undefined;
  if (next.immutable !== true) return "immutable: Forbidden: field is immutable when `immutable` is set";
  for (const field of ["data", "binaryData", "stringData"])
    if (JSON.stringify(live[field] ?? null) !== JSON.stringify(next[field] ?? null))
      return `${field}: Forbidden: field is immutable when \`immutable\` is set`;
  return undefined;
}

export const BUILTIN_RESOURCES: ResourceDef[] = [
  {
    group: "",
    version: "v1",
    plural: "namespaces",
    kind: "Namespace",
    namespaced: false,
    statusSubresource: true,
    shortNames: ["ns"],
  },
  {
    group: "",
    version: "v1",
    plural: "configmaps",
    kind: "ConfigMap",
    namespaced: true,
    shortNames: ["cm"],
    validateUpdate: immutableData,
  },
  { group: "", version: "v1", plural: "secrets", kind: "Secret", namespaced: true, validateUpdate: immutableData },
  { group: "", version: "v1", plural: "events", kind: "Event", namespaced: true, shortNames: ["ev"] },
  { group: "", version: "v1", plural: "serviceaccounts", kind: "ServiceAccount", namespaced: true, shortNames: ["sa"] },
  {
    group: "",
    version: "v1",
    plural: "services",
    kind: "Service",
    namespaced: true,
    statusSubresource: true,
    shortNames: ["svc"],
  },
  {
    group: "apps",
    version: "v1",
    plural: "deployments",
    kind: "Deployment",
    namespaced: true,
    statusSubresource: true,
    defaults: defaultDeployment,
    shortNames: ["deploy"],
  },
  { group: "apps", version: "v1", plural: "controllerrevisions", kind: "ControllerRevision", namespaced: true },
  {
    group: "networking.k8s.io",
    version: "v1",
    plural: "networkpolicies",
    kind: "NetworkPolicy",
    namespaced: true,
    shortNames: ["netpol"],
  },
  { group: "coordination.k8s.io", version: "v1", plural: "leases", kind: "Lease", namespaced: true },
  { group: "rbac.authorization.k8s.io", version: "v1", plural: "roles", kind: "Role", namespaced: true },
  { group: "rbac.authorization.k8s.io", version: "v1", plural: "rolebindings", kind: "RoleBinding", namespaced: true },
  { group: "events.k8s.io", version: "v1", plural: "events", kind: "Event", namespaced: true, shortNames: ["ev"] },
  {
    group: "apiextensions.k8s.io",
    version: "v1",
    plural: "customresourcedefinitions",
    kind: "CustomResourceDefinition",
    namespaced: false,
    statusSubresource: true,
    shortNames: ["crd", "crds"],
  },
  {
    group: "keda.sh",
    version: "v1alpha1",
    plural: "scaledobjects",
    kind: "ScaledObject",
    namespaced: true,
    statusSubresource: true,
    custom: true,
    shortNames: ["so"],
  },
  {
    group: "tessera.dev",
    version: "v1alpha1",
    plural: "components",
    kind: "Component",
    namespaced: true,
    statusSubresource: true,
    custom: true,
  },
];

/** Resource definitions a CustomResourceDefinition object declares (its served versions). */
export function defsFromCrd(crd: JsonObject): ResourceDef[] {
  const spec = crd.spec;
  if (!isObject(spec) || typeof spec.group !== "string" || !isObject(spec.names)) return [];
  const names = spec.names;
  if (typeof names.plural !== "string" || typeof names.kind !== "string") return [];
  const versions = Array.isArray(spec.versions) ? spec.versions : [];
  const out: ResourceDef[] = [];
  for (const v of versions) {
    if (!isObject(v) || typeof v.name !== "string" || v.served === false) continue;
    const sub = isObject(v.subresources) ? v.subresources : {};
    out.push({
      group: spec.group,
      version: v.name,
      plural: names.plural,
      kind: names.kind,
      namespaced: spec.scope !== "Cluster",
      statusSubresource: isObject(sub.status),
      custom: true,
      ...(typeof names.singular === "string" ? { singular: names.singular } : {}),
      ...(Array.isArray(names.shortNames)
        ? { shortNames: names.shortNames.filter((s): s is string => typeof s === "string") }
        : {}),
    });
  }
  return out;
}
