import type { ComponentSpec } from "@tessera/contract";
import { kubeError } from "../secrets/kube-secrets.js";
import { readProvenance, revisionSelector, type RecordedProvenance } from "./annotations.js";
import type { Cluster } from "./cluster.js";

/** One recorded revision of a component, as `versions` and `rollback` use it. */
export interface RevisionView {
  name: string;
  revision: number;
  createdAt: string;
  spec: ComponentSpec;
  provenance: RecordedProvenance;
  configHash?: string;
  configMapName?: string;
  images: string[];
}

interface ControllerRevision {
  metadata: { name: string; creationTimestamp?: string | Date; annotations?: Record<string, string> };
  revision: number;
  data?: unknown;
}

/** A ControllerRevision's record, or undefined when its data is not one (written by something else). */
function parse(cr: ControllerRevision): RevisionView | undefined {
  const data = cr.data as
    | {
        spec?: ComponentSpec;
        provenance?: Record<string, string>;
        configHash?: string;
        configMapName?: string;
        images?: string[];
      }
    | undefined;
  if (data?.spec === undefined) return undefined;
  const created = cr.metadata.creationTimestamp;
  return {
    name: cr.metadata.name,
    revision: Number(cr.revision),
    createdAt: created instanceof Date ? created.toISOString() : (created ?? ""),
    spec: data.spec,
    provenance: readProvenance(data.provenance ?? cr.metadata.annotations),
    ...(data.configHash !== undefined ? { configHash: data.configHash } : {}),
    ...(data.configMapName !== undefined ? { configMapName: data.configMapName } : {}),
    images: data.images ?? [data.spec.image],
  };
}

/** The recorded revisions of a component, oldest first (history read from the cluster, never a local file). */
export async function listRevisions(cluster: Cluster, namespace: string, component: string): Promise<RevisionView[]> {
  let items: ControllerRevision[];
  try {
    const list = await cluster.apps.listNamespacedControllerRevision({
      namespace,
      labelSelector: revisionSelector(component),
    });
    items = list.items as unknown as ControllerRevision[];
  } catch (err) {
    throw kubeError(`list the revisions of ${namespace}/${component}`, err, cluster.server);
  }
  return items
    .map(parse)
    .filter((r): r is RevisionView => r !== undefined)
    .sort((a, b) => a.revision - b.revision);
}
