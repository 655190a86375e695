import {
  DEPLOY_REVISION_LABEL,
  decodeDeployRevisionData,
  deployRevisionSelector,
  type DeployRevisionData,
} from "@tessera/contract";
import { kubeError } from "../secrets/kube-secrets.js";
import type { Cluster } from "./cluster.js";

/** One recorded revision of a component (a ControllerRevision the controller wrote), as versions and rollback read it. */
export interface RevisionView extends DeployRevisionData {
  /** The ControllerRevision's name. */
  name: string;
  revision: number;
  createdAt: string;
}

interface ControllerRevision {
  metadata: { name: string; creationTimestamp?: string | Date; labels?: Record<string, string> };
  revision: number;
  data?: unknown;
}

/** A ControllerRevision's record, or undefined when its data is not a deploy revision this CLI can read. */
function parse(cr: ControllerRevision): RevisionView | undefined {
  const decoded = decodeDeployRevisionData(cr.data);
  if (!decoded.ok) return undefined;
  const created = cr.metadata.creationTimestamp;
  const labelled = Number(cr.metadata.labels?.[DEPLOY_REVISION_LABEL]);
  return {
    ...decoded.value,
    name: cr.metadata.name,
    revision: Number(cr.revision) > 0 ? Number(cr.revision) : labelled,
    createdAt: created instanceof Date ? created.toISOString() : (created ?? ""),
  };
}

/** The recorded revisions of a component, oldest first (history read from the cluster, never a local file). */
export async function listRevisions(cluster: Cluster, namespace: string, component: string): Promise<RevisionView[]> {
  let items: ControllerRevision[];
  try {
    const list = await cluster.apps.listNamespacedControllerRevision({
      namespace,
      labelSelector: deployRevisionSelector(component),
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
