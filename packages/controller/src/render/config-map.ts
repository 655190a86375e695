import { configHash, configMapName } from "@tessera/contract";
import type { IConfigMap } from "kubernetes-models/v1";
import type { WorkloadConfig } from "./deployment.js";
import { componentLabels, type ComponentRef, type OwnerReference } from "./labels.js";

export type ConfigMapObject = IConfigMap & {
  metadata: { name: string; namespace: string; labels: Record<string, string>; ownerReferences?: OwnerReference[] };
};

/** A workload's config with its content hash and the name of the ConfigMap holding it. */
export function workloadConfig(component: string, data: Readonly<Record<string, string>> | undefined): WorkloadConfig {
  const content = { ...(data ?? {}) };
  const hash = configHash(content);
  return { data: content, hash, configMapName: configMapName(component, hash) };
}

/**
 * The immutable ConfigMap of one config: named by its content hash, so a change is a new ConfigMap and the old one
 * stays for a rollback to re-point to. No ownerReference here: the controller makes it a dependent of the deploy
 * revisions that use it (reconcile/revisions.ts), so it is garbage-collected with the last of them.
 */
export function renderConfigMap(component: ComponentRef, config: WorkloadConfig): ConfigMapObject {
  return {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: {
      name: config.configMapName,
      namespace: component.namespace,
      labels: componentLabels(component.name),
      ...(component.annotations !== undefined ? { annotations: { ...component.annotations } } : {}),
    },
    immutable: true,
    data: { ...config.data },
  };
}
