import {
  ContractValidationError,
  DEFAULT_MATURITY,
  componentSpecRuleIssues,
  deployProvenanceAnnotations,
  effectiveConfig,
  provenanceAnnotations,
  type ComponentSpec,
  type DeployProvenance,
} from "@tessera/contract";
import { renderConfigMap, workloadConfig, type ConfigMapObject } from "./config-map.js";
import { renderCanary, scalingShares, withScaling, type RenderedCanary } from "./canary.js";
import type { RenderContext } from "./context.js";
import { renderDeployment, type DeploymentObject, type WorkloadConfig } from "./deployment.js";
import { renderConsumerConfig, renderStreamConfig, type ConsumerConfig, type StreamConfig } from "./jetstream.js";
import type { ComponentRef } from "./labels.js";
import { renderNetworkPolicies, type NetworkPolicyObject } from "./network-policies.js";
import { renderRbac, type RbacObject } from "./rbac.js";
import { renderScaledObject, type ScaledObjectObject } from "./scaled-object.js";

export type { RenderContext } from "./context.js";
export { RenderError } from "./errors.js";
export { componentLabels, selectorLabels, ownerReference, type ComponentRef } from "./labels.js";
export type { DeploymentObject, WorkloadConfig } from "./deployment.js";
export { workloadConfig, type ConfigMapObject } from "./config-map.js";
export type { ScaledObjectObject } from "./scaled-object.js";
export type { NetworkPolicyObject } from "./network-policies.js";
export {
  RBAC_KINDS,
  clusterRoleBindingName,
  componentServiceAccountName,
  type RbacObject,
  type RoleBindingObject,
  type RoleObject,
  type ServiceAccountObject,
} from "./rbac.js";
export type { StreamConfig, ConsumerConfig } from "./jetstream.js";
export type { RenderedCanary } from "./canary.js";

export interface ComponentInput extends ComponentRef {
  spec: ComponentSpec;
  /** Merged over spec.config for every workload: the overlay ConfigMap's data (or, re-pointing, a revision's config). */
  overlay?: Readonly<Record<string, string>>;
  /** The deploy provenance on the Component, annotated on every rendered object. */
  provenance?: DeployProvenance;
}

export interface RenderedComponent {
  /** The stable workers' config and its immutable ConfigMap, then the canary's when it differs. */
  configMaps: ConfigMapObject[];
  config: WorkloadConfig;
  deployment: DeploymentObject;
  scaledObject: ScaledObjectObject;
  /** [default-deny backstop, egress posture] */
  networkPolicies: NetworkPolicyObject[];
  /** ServiceAccount, Role and RoleBindings when the spec declares `rbac`; empty otherwise. */
  rbac: RbacObject[];
  stream: StreamConfig;
  consumer: ConsumerConfig;
  /** `spec.canary`'s Deployment and ScaledObject (`<name>.canary`), on the same stream and consumer. */
  canary?: RenderedCanary;
}

/**
 * Everything one Component becomes, as plain objects: pure (no I/O, no clock), deterministic, and the
 * same for the controller and `tessera render`. The spec is expected to be validated already (the
 * controller reports validation errors in status); the cross-field rules are checked again here so that a
 * /0 or metadata-covering CIDR can never reach a NetworkPolicy. Throws ContractValidationError for a spec
 * that breaks them and RenderError for a context or spec the renderers cannot express.
 */
export function renderComponent(component: ComponentInput, ctx: RenderContext): RenderedComponent {
  const issues = componentSpecRuleIssues(component.spec);
  if (issues.length > 0) throw new ContractValidationError(`Component ${component.name}`, issues);
  const annotations = {
    ...(ctx.build !== undefined ? provenanceAnnotations(ctx.build, component.spec.maturity ?? DEFAULT_MATURITY) : {}),
    ...deployProvenanceAnnotations(component.provenance ?? {}),
  };
  const ref: ComponentRef = {
    name: component.name,
    namespace: component.namespace,
    ...(component.uid !== undefined ? { uid: component.uid } : {}),
    ...(Object.keys(annotations).length > 0 ? { annotations } : {}),
  };
  const spec = component.spec;
  // With a canary the stable revision keeps only its share of the scaling; its Deployment is unchanged.
  const stableScaling =
    spec.canary !== undefined ? withScaling(spec, scalingShares(spec, spec.canary.weight).stable) : spec;
  const config = workloadConfig(component.name, effectiveConfig(spec.config, component.overlay));
  const canary = renderCanary(ref, spec, ctx, config.data);
  const configMaps = [renderConfigMap(ref, config)];
  if (canary !== undefined && canary.config.configMapName !== config.configMapName)
    configMaps.push(renderConfigMap(ref, canary.config));
  return {
    configMaps,
    config,
    deployment: renderDeployment(ref, component.spec, ctx, config),
    scaledObject: renderScaledObject(ref, stableScaling, ctx),
    networkPolicies: renderNetworkPolicies(ref, component.spec, ctx),
    rbac: renderRbac(ref, component.spec),
    stream: renderStreamConfig(component.name, component.spec),
    consumer: renderConsumerConfig(component.name, component.spec),
    ...(canary !== undefined ? { canary } : {}),
  };
}

/** The Kubernetes objects of a rendering, in apply order (the ServiceAccount and ConfigMaps exist before pods name them). */
export function kubernetesObjects(
  rendered: RenderedComponent,
): (ConfigMapObject | DeploymentObject | ScaledObjectObject | NetworkPolicyObject | RbacObject)[] {
  const canary = rendered.canary !== undefined ? [rendered.canary.deployment, rendered.canary.scaledObject] : [];
  return [
    ...rendered.networkPolicies,
    ...rendered.rbac,
    // Before the Deployments that read them: a pod never starts against a ConfigMap not there yet.
    ...rendered.configMaps,
    rendered.deployment,
    rendered.scaledObject,
    ...canary,
  ];
}
