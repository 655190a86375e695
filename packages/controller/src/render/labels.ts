import { COMPONENT_LABEL, canaryWorkloadName, type Revision } from "@tessera/contract";
import type { IDeployment } from "kubernetes-models/apps/v1";

type ObjectMeta = NonNullable<IDeployment["metadata"]>;
export type OwnerReference = NonNullable<ObjectMeta["ownerReferences"]>[number];

/** The object a Component's rendered children are labelled for and owned by. */
export interface ComponentRef {
  name: string;
  namespace: string;
  /** metadata.uid of the Component; without it (offline `tessera render`) no ownerReference is rendered. */
  uid?: string;
  /** Annotations every child carries: the build that rendered it and the component's maturity. */
  annotations?: Record<string, string>;
}

export const COMPONENT_API_VERSION = "tessera.dev/v1alpha1";
export const COMPONENT_KIND = "Component";
/** Every rendered object carries it; validation groups objects by it, the controller maps Deployments back by it. */
export const COMPONENT_NAME_LABEL = COMPONENT_LABEL;
export const APP_NAME = "tessera-component";
export const MANAGED_BY = "tessera";

/** Labels on every rendered object and on the pods. */
export function componentLabels(name: string): Record<string, string> {
  return {
    "app.kubernetes.io/name": APP_NAME,
    "app.kubernetes.io/component": name,
    "app.kubernetes.io/managed-by": MANAGED_BY,
    [COMPONENT_NAME_LABEL]: name,
  };
}

/**
 * The Deployment selector and the NetworkPolicy podSelector: a subset of `componentLabels` that never
 * changes (a Deployment's selector is immutable), so adding an informational label later is not a breaking change.
 */
export function selectorLabels(name: string): Record<string, string> {
  return { "app.kubernetes.io/name": APP_NAME, [COMPONENT_NAME_LABEL]: name };
}

/** Set on the canary's Deployment, ScaledObject and pods only (the stable ones render as before canaries existed). */
export const REVISION_LABEL = "tessera.dev/revision";

/** One of a component's worker Deployments (with its ScaledObject): its name, labels and pod selector. */
export interface Workload {
  name: string;
  revision: Revision;
  labels: Record<string, string>;
  selector: Record<string, string>;
}

export function stableWorkload(component: string): Workload {
  return {
    name: component,
    revision: "stable",
    labels: componentLabels(component),
    selector: selectorLabels(component),
  };
}

/**
 * The canary's Deployment: its selector adds the revision label, so it never adopts the stable pods. The stable
 * selector (immutable, so unchanged) does match canary pods; that is harmless (a Deployment only counts pods of
 * ReplicaSets it owns) and wanted for the NetworkPolicies, which select both revisions by `selectorLabels`.
 */
export function canaryWorkload(component: string): Workload {
  const revision = { [REVISION_LABEL]: "canary" };
  return {
    name: canaryWorkloadName(component),
    revision: "canary",
    labels: { ...componentLabels(component), ...revision },
    selector: { ...selectorLabels(component), ...revision },
  };
}

export function ownerReference(component: ComponentRef): OwnerReference | undefined {
  if (component.uid === undefined || component.uid === "") return undefined;
  return {
    apiVersion: COMPONENT_API_VERSION,
    kind: COMPONENT_KIND,
    name: component.name,
    uid: component.uid,
    controller: true,
    blockOwnerDeletion: true,
  };
}

/** metadata for a child object of the Component (name defaults to the Component's). */
export function childMetadata(
  component: ComponentRef,
  name = component.name,
): ObjectMeta & { name: string; namespace: string; labels: Record<string, string> } {
  const owner = ownerReference(component);
  return {
    name,
    namespace: component.namespace,
    labels: componentLabels(component.name),
    ...(component.annotations !== undefined ? { annotations: { ...component.annotations } } : {}),
    ...(owner !== undefined ? { ownerReferences: [owner] } : {}),
  };
}
