import * as k8s from "@kubernetes/client-node";
import type { DeployStatus } from "@tessera/contract";
import { COMPONENT_GROUP, COMPONENT_PLURAL, COMPONENT_VERSION } from "../crd/index.js";

/** The one field manager every write of the controller uses (server-side apply owns fields by manager). */
export const FIELD_MANAGER = "tessera-controller";

export interface ComponentObject {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace: string;
    uid: string;
    annotations?: Record<string, string>;
    generation?: number;
    resourceVersion?: string;
    finalizers?: string[];
    deletionTimestamp?: string;
  };
  spec: unknown;
  status?: DeployStatus & { observedGeneration?: number; replicas?: number; conditions?: unknown[] };
}

export interface KubeObjectLike {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; [k: string]: unknown };
  [k: string]: unknown;
}

/**
 * The controller's only door to the API server: Component reads and status/finalizer writes through the
 * custom objects API, and everything it renders through server-side apply under one field manager.
 * A 404 is `undefined`; every other failure throws (the work queue retries with backoff).
 */
export class KubeAccess {
  private readonly custom: k8s.CustomObjectsApi;
  private readonly objects: k8s.KubernetesObjectApi;

  constructor(readonly kubeConfig: k8s.KubeConfig) {
    this.custom = kubeConfig.makeApiClient(k8s.CustomObjectsApi);
    this.objects = k8s.KubernetesObjectApi.makeApiClient(kubeConfig);
  }

  async getComponent(namespace: string, name: string): Promise<ComponentObject | undefined> {
    return notFoundAsUndefined(
      () =>
        this.custom.getNamespacedCustomObject({
          group: COMPONENT_GROUP,
          version: COMPONENT_VERSION,
          namespace,
          plural: COMPONENT_PLURAL,
          name,
        }) as Promise<ComponentObject>,
    );
  }

  async listComponents(): Promise<{ items: ComponentObject[]; resourceVersion: string }> {
    const list = (await this.custom.listClusterCustomObject({
      group: COMPONENT_GROUP,
      version: COMPONENT_VERSION,
      plural: COMPONENT_PLURAL,
    })) as { items: ComponentObject[]; metadata: { resourceVersion: string } };
    return { items: list.items, resourceVersion: list.metadata.resourceVersion };
  }

  /** PUT of the whole object: a stale resourceVersion is a 409, and the key is retried on fresh data. */
  async replaceComponent(component: ComponentObject): Promise<ComponentObject> {
    const { namespace, name } = component.metadata;
    return (await this.custom.replaceNamespacedCustomObject({
      group: COMPONENT_GROUP,
      version: COMPONENT_VERSION,
      namespace,
      plural: COMPONENT_PLURAL,
      name,
      body: component,
    })) as ComponentObject;
  }

  async replaceComponentStatus(component: ComponentObject): Promise<ComponentObject> {
    const { namespace, name } = component.metadata;
    return (await this.custom.replaceNamespacedCustomObjectStatus({
      group: COMPONENT_GROUP,
      version: COMPONENT_VERSION,
      namespace,
      plural: COMPONENT_PLURAL,
      name,
      body: component,
    })) as ComponentObject;
  }

  async read<T extends KubeObjectLike>(object: KubeObjectLike): Promise<T | undefined> {
    return notFoundAsUndefined(
      () =>
        this.objects.read({
          apiVersion: object.apiVersion,
          kind: object.kind,
          metadata: { name: object.metadata.name, namespace: object.metadata.namespace ?? "default" },
        }) as unknown as Promise<T>,
    );
  }

  /** The names of the objects of one kind in `namespace` whose labels match `labelSelector`. */
  async listNames(
    type: { apiVersion: string; kind: string },
    namespace: string,
    labelSelector: string,
  ): Promise<string[]> {
    const items = await this.list(type, namespace, labelSelector);
    return items.map((o) => o.metadata?.name ?? "").filter((n) => n !== "");
  }

  /** The objects of one kind in `namespace` whose labels match `labelSelector`. */
  async list<T extends KubeObjectLike>(
    type: { apiVersion: string; kind: string },
    namespace: string,
    labelSelector: string,
  ): Promise<T[]> {
    const list = await this.objects.list(
      type.apiVersion,
      type.kind,
      namespace,
      undefined,
      undefined,
      undefined,
      undefined,
      labelSelector,
    );
    return list.items as unknown as T[];
  }

  /** POST: an object that exists already is a 409, so two writers never both think they created it. */
  async create<T extends KubeObjectLike>(object: KubeObjectLike): Promise<T> {
    return (await this.objects.create(
      object as k8s.KubernetesObject,
      undefined,
      undefined,
      FIELD_MANAGER,
    )) as unknown as T;
  }

  /**
   * Deletes one object, by default with foreground propagation (a canary Deployment's ReplicaSets and pods go
   * with it); already gone is not an error. Says whether it deleted anything.
   */
  async delete(object: KubeObjectLike, propagation: "Foreground" | "Background" = "Foreground"): Promise<boolean> {
    const ref = {
      apiVersion: object.apiVersion,
      kind: object.kind,
      metadata: { name: object.metadata.name, namespace: object.metadata.namespace ?? "default" },
    };
    const gone = await notFoundAsUndefined(() =>
      this.objects.delete(ref, undefined, undefined, undefined, undefined, propagation),
    );
    return gone !== undefined;
  }

  /** Server-side apply, forcing ownership of the fields we send (and only those: never spec.replicas). */
  async apply(object: KubeObjectLike): Promise<void> {
    await this.objects.patch(
      object as k8s.KubernetesObject,
      undefined,
      undefined,
      FIELD_MANAGER,
      true,
      k8s.PatchStrategy.ServerSideApply,
    );
  }
}

export function isStatus(err: unknown, code: number): boolean {
  return (err as { code?: unknown }).code === code || (err as { statusCode?: unknown }).statusCode === code;
}

async function notFoundAsUndefined<T>(call: () => Promise<T>): Promise<T | undefined> {
  try {
    return await call();
  } catch (err) {
    if (isStatus(err, 404)) return undefined;
    throw err;
  }
}
