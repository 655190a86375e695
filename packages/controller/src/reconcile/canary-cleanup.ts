import { canaryWorkloadName } from "@tessera/contract";
import type { KubeAccess, KubeObjectLike } from "./kube-access.js";

/** The canary's objects by name, for a Component whose spec no longer has one (promoted or aborted). */
export function canaryObjectRefs(namespace: string, component: string): KubeObjectLike[] {
  const name = canaryWorkloadName(component);
  // The ScaledObject first: with it gone KEDA stops scaling the Deployment it is about to lose.
  return [
    { apiVersion: "keda.sh/v1alpha1", kind: "ScaledObject", metadata: { name, namespace } },
    { apiVersion: "apps/v1", kind: "Deployment", metadata: { name, namespace } },
  ];
}

/**
 * Removes a canary the spec no longer declares. Reads first, so a Component that never had a canary costs reads
 * only, never a write (a no-change reconcile stays write-free). Returns how many objects it deleted.
 */
export async function removeCanaryLeftovers(
  kube: KubeAccess,
  namespace: string,
  component: string,
  beforeWrite: () => void,
): Promise<number> {
  let deleted = 0;
  for (const ref of canaryObjectRefs(namespace, component)) {
    if ((await kube.read(ref)) === undefined) continue;
    beforeWrite();
    if (await kube.delete(ref)) deleted += 1;
  }
  return deleted;
}
