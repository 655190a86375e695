import {
  deployRevisionSelector,
  recordedDeployRevisions,
  type ControllerRevisionFields,
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

/** The recorded revisions of a component, oldest first (history read from the cluster, never a local file). */
export async function listRevisions(cluster: Cluster, namespace: string, component: string): Promise<RevisionView[]> {
  let items: ControllerRevisionFields[];
  try {
    const list = await cluster.apps.listNamespacedControllerRevision({
      namespace,
      labelSelector: deployRevisionSelector(component),
    });
    items = list.items as unknown as ControllerRevisionFields[];
  } catch (err) {
    throw kubeError(`list the revisions of ${namespace}/${component}`, err, cluster.server);
  }
  return recordedDeployRevisions(items).map((r) => ({
    ...r.data,
    name: r.name,
    revision: r.revision,
    createdAt: r.createdAt,
  }));
}
