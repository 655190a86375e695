import { isDeepStrictEqual } from "node:util";
import { validateComponentSpec, type ComponentSpec } from "@tessera/contract";
import { COMPONENT_GROUP, COMPONENT_PLURAL, COMPONENT_VERSION } from "@tessera/controller";
import * as k8s from "@kubernetes/client-node";
import { CliError } from "../cli-error.js";
import { ExitCode } from "../exit-codes.js";
import { kubeError, loadKubeTarget, type KubeTarget } from "../secrets/kube-secrets.js";

export interface Condition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
  observedGeneration?: number;
}

export interface ComponentResource {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace: string;
    uid?: string;
    resourceVersion?: string;
    generation?: number;
    creationTimestamp?: string;
    annotations?: Record<string, string>;
    [k: string]: unknown;
  };
  spec: unknown;
  status?: {
    observedGeneration?: number;
    revision?: number;
    /** The live revision's immutable ConfigMap (the controller writes it with the revision). */
    configMapName?: string;
    replicas?: number;
    conditions?: Condition[];
    [k: string]: unknown;
  };
}

export interface DeploymentResource {
  metadata: { name: string; generation?: number; annotations?: Record<string, string>; resourceVersion?: string };
  spec?: {
    replicas?: number;
    template?: {
      metadata?: { annotations?: Record<string, string> };
      spec?: { containers?: { name: string; image?: string }[] };
    };
  };
  status?: {
    observedGeneration?: number;
    replicas?: number;
    updatedReplicas?: number;
    readyReplicas?: number;
    availableReplicas?: number;
  };
}

/** The field manager of every write the CLI makes (what `managedFields` shows for the Component). */
export const CLI_FIELD_MANAGER = "tessera-cli";

export function statusCode(err: unknown): number | undefined {
  const code = (err as { code?: unknown }).code ?? (err as { statusCode?: unknown }).statusCode;
  return typeof code === "number" ? code : undefined;
}

/** The validated spec of a live Component (defaults filled as a manifest's are), or undefined when invalid. */
export function liveSpec(component: ComponentResource): ComponentSpec | undefined {
  const checked = validateComponentSpec(component.spec);
  return checked.ok ? checked.value : undefined;
}

/** Whether two specs say the same thing (key order aside): what decides that a redeploy writes nothing. */
export function sameSpec(a: ComponentSpec | undefined, b: ComponentSpec | undefined): boolean {
  return a !== undefined && b !== undefined && isDeepStrictEqual(a, b);
}

/** One cluster (a kubeconfig context) and the namespace commands default to there. */
export class Cluster {
  readonly custom: k8s.CustomObjectsApi;
  readonly apps: k8s.AppsV1Api;
  readonly server: string;
  readonly context: string;

  constructor(
    readonly kubeConfig: k8s.KubeConfig,
    readonly namespace: string,
  ) {
    this.custom = kubeConfig.makeApiClient(k8s.CustomObjectsApi);
    this.apps = kubeConfig.makeApiClient(k8s.AppsV1Api);
    this.server = kubeConfig.getCurrentCluster()?.server ?? "(no server in the kubeconfig)";
    this.context = kubeConfig.getCurrentContext();
  }

  static load(target: KubeTarget): Cluster {
    const { kubeConfig, namespace } = loadKubeTarget(target);
    return new Cluster(kubeConfig, namespace);
  }

  componentRef(namespace: string) {
    return { group: COMPONENT_GROUP, version: COMPONENT_VERSION, namespace, plural: COMPONENT_PLURAL };
  }

  async readComponent(namespace: string, name: string): Promise<ComponentResource | undefined> {
    try {
      return (await this.custom.getNamespacedCustomObject({
        ...this.componentRef(namespace),
        name,
      })) as ComponentResource;
    } catch (err) {
      if (statusCode(err) === 404) return undefined;
      throw kubeError(`read component ${namespace}/${name}`, err, this.server);
    }
  }

  async requireComponent(namespace: string, name: string): Promise<ComponentResource> {
    const component = await this.readComponent(namespace, name);
    if (component === undefined)
      throw new CliError(
        `component ${namespace}/${name} not found in the cluster (context ${this.context})`,
        ExitCode.NotFound,
      );
    return component;
  }

  async listComponents(namespace: string | undefined): Promise<ComponentResource[]> {
    try {
      const list = (
        namespace === undefined
          ? await this.custom.listClusterCustomObject({
              group: COMPONENT_GROUP,
              version: COMPONENT_VERSION,
              plural: COMPONENT_PLURAL,
            })
          : await this.custom.listNamespacedCustomObject(this.componentRef(namespace))
      ) as { items: ComponentResource[] };
      return list.items;
    } catch (err) {
      throw kubeError(`list components${namespace !== undefined ? ` in ${namespace}` : ""}`, err, this.server);
    }
  }

  async readDeployment(namespace: string, name: string): Promise<DeploymentResource | undefined> {
    try {
      return (await this.apps.readNamespacedDeployment({ name, namespace })) as DeploymentResource;
    } catch (err) {
      if (statusCode(err) === 404) return undefined;
      throw kubeError(`read Deployment ${namespace}/${name}`, err, this.server);
    }
  }

  /** Why KEDA is not acting on a component's ScaledObject (its Ready condition when False), else undefined. */
  async kedaProblem(namespace: string, name: string): Promise<string | undefined> {
    try {
      const so = (await this.custom.getNamespacedCustomObject({
        group: "keda.sh",
        version: "v1alpha1",
        namespace,
        plural: "scaledobjects",
        name,
      })) as { status?: { conditions?: Condition[] } };
      const ready = so.status?.conditions?.find((c) => c.type === "Ready");
      return ready?.status === "False" ? (ready.message ?? ready.reason ?? "not ready") : undefined;
    } catch {
      // No KEDA (or no ScaledObject yet): nothing to add.
      return undefined;
    }
  }

  /**
   * Creates the Component, or replaces it carrying the resourceVersion read. A conflict caused by the
   * controller (its finalizer or status write moved the resourceVersion) is retried on a fresh read as long as
   * the spec is still `expectedSpec`; anyone else's spec change is a Conflict, never overwritten.
   */
  async writeComponent(
    namespace: string,
    name: string,
    spec: ComponentSpec,
    annotations: Record<string, string>,
    dropAnnotations: readonly string[],
    base: ComponentResource | undefined,
  ): Promise<ComponentResource> {
    if (base === undefined) {
      try {
        return (await this.custom.createNamespacedCustomObject({
          ...this.componentRef(namespace),
          fieldManager: CLI_FIELD_MANAGER,
          body: {
            apiVersion: `${COMPONENT_GROUP}/${COMPONENT_VERSION}`,
            kind: "Component",
            metadata: { name, namespace, annotations },
            spec,
          },
        })) as ComponentResource;
      } catch (err) {
        if (statusCode(err) === 409)
          throw new CliError(
            `component ${namespace}/${name} was created by someone else meanwhile; nothing was written, run it again`,
            ExitCode.Conflict,
          );
        throw kubeError(`create component ${namespace}/${name}`, err, this.server);
      }
    }
    const expected = base.spec;
    let current = base;
    for (let attempt = 0; ; attempt++) {
      const kept = Object.fromEntries(
        Object.entries(current.metadata.annotations ?? {}).filter(([k]) => !dropAnnotations.includes(k)),
      );
      try {
        return (await this.custom.replaceNamespacedCustomObject({
          ...this.componentRef(namespace),
          name,
          fieldManager: CLI_FIELD_MANAGER,
          body: { ...current, metadata: { ...current.metadata, annotations: { ...kept, ...annotations } }, spec },
        })) as ComponentResource;
      } catch (err) {
        if (statusCode(err) !== 409 || attempt >= 5)
          throw statusCode(err) === 409
            ? new CliError(`component ${namespace}/${name} keeps changing; nothing was written`, ExitCode.Conflict)
            : kubeError(`update component ${namespace}/${name}`, err, this.server);
      }
      const fresh = await this.readComponent(namespace, name);
      if (fresh === undefined || !isDeepStrictEqual(fresh.spec, expected))
        throw new CliError(
          `component ${namespace}/${name} was changed by someone else meanwhile; nothing was written, run it again`,
          ExitCode.Conflict,
        );
      current = fresh;
    }
  }

  async deleteComponent(namespace: string, name: string): Promise<void> {
    try {
      await this.custom.deleteNamespacedCustomObject({ ...this.componentRef(namespace), name });
    } catch (err) {
      if (statusCode(err) !== 404) throw kubeError(`delete component ${namespace}/${name}`, err, this.server);
    }
  }
}
