import { canaryWorkloadName, durableConsumerName, jobStreamName } from "@tessera/contract";
import { ScaledObject } from "@kubernetes-models/keda/keda.sh/v1alpha1";
import { CustomResourceDefinition } from "kubernetes-models/apiextensions.k8s.io/v1";
import { Deployment } from "kubernetes-models/apps/v1";
import { NetworkPolicy } from "kubernetes-models/networking.k8s.io/v1";
import { ClusterRole, ClusterRoleBinding, Role, RoleBinding } from "kubernetes-models/rbac.authorization.k8s.io/v1";
import { ConfigMap, Namespace, ServiceAccount } from "kubernetes-models/v1";
import { COMPONENT_NAME_LABEL } from "../render/labels.js";
import { unknownScaledObjectFields } from "./keda-fields.js";
import { restrictedPodSecurityViolations } from "./pod-security.js";
import { kubernetesModelName, unknownKubernetesFields } from "./unknown-fields.js";

export type KubeObject = Record<string, unknown> & {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
};

export interface ManifestProblem {
  /** `Deployment/extract` */
  object: string;
  path: string;
  message: string;
}

type Validatable = { validate(): void };
const SCHEMA_MODELS: Record<string, (data: Record<string, unknown>) => Validatable> = {
  "apps/v1/Deployment": (d) => new Deployment(d as never),
  "networking.k8s.io/v1/NetworkPolicy": (d) => new NetworkPolicy(d as never),
  "keda.sh/v1alpha1/ScaledObject": (d) => new ScaledObject(d as never),
  "apiextensions.k8s.io/v1/CustomResourceDefinition": (d) => new CustomResourceDefinition(d as never),
  "v1/Namespace": (d) => new Namespace(d as never),
  "v1/ConfigMap": (d) => new ConfigMap(d as never),
  "v1/ServiceAccount": (d) => new ServiceAccount(d as never),
  "rbac.authorization.k8s.io/v1/ClusterRole": (d) => new ClusterRole(d as never),
  "rbac.authorization.k8s.io/v1/ClusterRoleBinding": (d) => new ClusterRoleBinding(d as never),
  "rbac.authorization.k8s.io/v1/Role": (d) => new Role(d as never),
  "rbac.authorization.k8s.io/v1/RoleBinding": (d) => new RoleBinding(d as never),
};

/**
 * Everything `tessera render --validate` checks, offline: each object against the upstream Kubernetes
 * and KEDA schemas (kubernetes-models), unknown fields (which those schemas let through), the restricted
 * Pod Security Standard, and the invariants the platform depends on in the cluster:
 * no `spec.replicas` (KEDA owns it), the ScaledObject targets the component's Deployment, every
 * NetworkPolicy selects the component's pods, and the ScaledObject reads the stream and consumer the
 * controller provisions, through a monitoring endpoint written as host:port.
 */
export function validateManifests(objects: readonly KubeObject[]): ManifestProblem[] {
  const problems: ManifestProblem[] = [];
  for (const object of objects) problems.push(...objectProblems(object));
  const byComponent = new Map<string, KubeObject[]>();
  for (const object of objects) {
    const component = object.metadata.labels?.[COMPONENT_NAME_LABEL];
    if (component !== undefined) byComponent.set(component, [...(byComponent.get(component) ?? []), object]);
  }
  for (const [component, group] of byComponent) problems.push(...invariantProblems(component, group));
  return problems;
}

function objectProblems(object: KubeObject): ManifestProblem[] {
  const id = `${object.kind}/${object.metadata?.name ?? "?"}`;
  const problems: ManifestProblem[] = [];
  const model = SCHEMA_MODELS[`${object.apiVersion}/${object.kind}`];
  if (model === undefined)
    return [{ object: id, path: "", message: `no schema known for ${object.apiVersion} ${object.kind}` }];
  try {
    model(object).validate();
  } catch (err) {
    problems.push({ object: id, path: "", message: `schema: ${(err as Error).message}` });
  }
  const unknown =
    object.kind === "ScaledObject"
      ? [...unknownScaledObjectFields(object), ...unknownKubernetesFields(object.metadata, "V1ObjectMeta", "metadata")]
      : unknownBuiltIn(object);
  for (const path of unknown)
    problems.push({ object: id, path, message: "unknown field (not in the upstream schema; a misspelling?)" });
  if (object.kind === "Deployment") {
    const podSpec = (
      (object["spec"] as Record<string, unknown> | undefined)?.["template"] as Record<string, unknown> | undefined
    )?.["spec"];
    for (const violation of restrictedPodSecurityViolations((podSpec ?? {}) as Record<string, unknown>)) {
      const [path, ...rest] = violation.split(": ");
      problems.push({ object: id, path: path ?? "", message: `restricted Pod Security Standard: ${rest.join(": ")}` });
    }
  }
  return problems;
}

function unknownBuiltIn(object: KubeObject): string[] {
  const model = kubernetesModelName(object.apiVersion, object.kind);
  return model === undefined ? [] : unknownKubernetesFields(object, model);
}

function invariantProblems(component: string, group: readonly KubeObject[]): ManifestProblem[] {
  const problems: ManifestProblem[] = [];
  const deployments = group.filter((o) => o.kind === "Deployment");
  // One Deployment, plus the canary's (`<name>.canary`) when the spec has one: same stream, same consumer.
  const canaryName = canaryWorkloadName(component);
  const main = deployments.filter((d) => d.metadata.name !== canaryName);
  if (main.length !== 1 || deployments.length > 2)
    return [
      {
        object: `Component/${component}`,
        path: "",
        message: `expected exactly one Deployment (and at most its canary ${canaryName}), found ${deployments.length}`,
      },
    ];
  for (const deployment of deployments) {
    const spec = (deployment["spec"] ?? {}) as Record<string, unknown>;
    if ("replicas" in spec)
      problems.push({
        object: `Deployment/${deployment.metadata.name}`,
        path: "spec.replicas",
        message: "must not be set: KEDA owns the replica count",
      });
    problems.push(...configReferenceProblems(deployment, group));
    const podLabels =
      (
        ((spec["template"] ?? {}) as Record<string, unknown>)["metadata"] as
          { labels?: Record<string, string> } | undefined
      )?.labels ?? {};
    for (const policy of group.filter((o) => o.kind === "NetworkPolicy")) {
      const selector =
        (
          (policy["spec"] as Record<string, unknown> | undefined)?.["podSelector"] as
            { matchLabels?: Record<string, string> } | undefined
        )?.matchLabels ?? {};
      const mismatched = Object.entries(selector).filter(([k, v]) => podLabels[k] !== v);
      if (Object.keys(selector).length === 0 || mismatched.length > 0) {
        problems.push({
          object: `NetworkPolicy/${policy.metadata.name}`,
          path: "spec.podSelector.matchLabels",
          message: `must select the component's pods (labels ${JSON.stringify(podLabels)} of Deployment ${deployment.metadata.name})`,
        });
      }
    }
  }
  const scaled = group.filter((o) => o.kind === "ScaledObject");
  if (scaled.length !== deployments.length)
    problems.push({
      object: `Component/${component}`,
      path: "",
      message: `expected exactly one ScaledObject per Deployment (${deployments.length}), found ${scaled.length}`,
    });
  const targets = deployments.map((d) => d.metadata.name);
  const targeted = new Set<string>();
  for (const so of scaled) {
    const id = `ScaledObject/${so.metadata.name}`;
    const soSpec = (so["spec"] ?? {}) as {
      scaleTargetRef?: { name?: string; kind?: string };
      triggers?: { type?: string; metadata?: Record<string, unknown> }[];
    };
    const target = soSpec.scaleTargetRef?.name;
    if (
      target === undefined ||
      !targets.includes(target) ||
      targeted.has(target) ||
      (soSpec.scaleTargetRef?.kind ?? "Deployment") !== "Deployment"
    ) {
      problems.push({
        object: id,
        path: "spec.scaleTargetRef",
        message: `must target Deployment ${targets.filter((t) => !targeted.has(t)).join(" or ")}`,
      });
    }
    if (target !== undefined) targeted.add(target);
    for (const [i, trigger] of (soSpec.triggers ?? []).entries()) {
      if (trigger.type !== "nats-jetstream") continue;
      const meta = trigger.metadata ?? {};
      const at = `spec.triggers[${i}].metadata`;
      for (const [k, v] of Object.entries(meta))
        if (typeof v !== "string")
          problems.push({ object: id, path: `${at}.${k}`, message: "KEDA trigger metadata values must be strings" });
      if (meta["stream"] !== jobStreamName(component))
        problems.push({
          object: id,
          path: `${at}.stream`,
          message: `must be ${jobStreamName(component)}, the stream the controller provisions`,
        });
      if (meta["consumer"] !== durableConsumerName(component))
        problems.push({
          object: id,
          path: `${at}.consumer`,
          message: `must be ${durableConsumerName(component)}, the consumer the controller provisions`,
        });
      const endpoint = meta["natsServerMonitoringEndpoint"];
      if (typeof endpoint !== "string" || endpoint.includes("://") || !/^[^/:]+:\d+$/.test(endpoint)) {
        problems.push({
          object: id,
          path: `${at}.natsServerMonitoringEndpoint`,
          message: `must be host:port with no scheme, got ${JSON.stringify(endpoint)}`,
        });
      }
    }
  }
  return problems;
}

/**
 * Every config key a Deployment reads by configMapKeyRef is in a rendered ConfigMap that is immutable and labelled
 * for the same component: an applied set never leaves a pod waiting for a ConfigMap or key that is not there.
 */
function configReferenceProblems(deployment: KubeObject, group: readonly KubeObject[]): ManifestProblem[] {
  const spec = deployment["spec"] as
    | {
        template?: {
          spec?: { containers?: { env?: { valueFrom?: { configMapKeyRef?: { name?: string; key?: string } } }[] }[] };
        };
      }
    | undefined;
  const problems: ManifestProblem[] = [];
  for (const [c, container] of (spec?.template?.spec?.containers ?? []).entries()) {
    for (const [i, env] of (container.env ?? []).entries()) {
      const ref = env.valueFrom?.configMapKeyRef;
      if (ref === undefined) continue;
      const map = group.find((o) => o.kind === "ConfigMap" && o.metadata.name === ref.name) as
        (KubeObject & { immutable?: boolean; data?: Record<string, string> }) | undefined;
      const path = `spec.template.spec.containers[${c}].env[${i}].valueFrom.configMapKeyRef`;
      const object = `Deployment/${deployment.metadata.name}`;
      if (map === undefined)
        problems.push({ object, path, message: `names ConfigMap ${String(ref.name)}, which is not rendered` });
      else if (map.immutable !== true || ref.key === undefined || !Object.hasOwn(map.data ?? {}, ref.key))
        problems.push({ object, path, message: `must name a key of the immutable ConfigMap ${map.metadata.name}` });
    }
  }
  return problems;
}
