import { CONFIG_HASH_ANNOTATION, configMapName } from "@tessera/contract";
import type { ComponentResource, Condition, DeploymentResource } from "./cluster.js";

/**
 * Where one component's rollout stands:
 * - `ready`: the controller observed the spec, re-pointed the Deployment (image, and config hash where the controller
 *   records revisions), and the workers are up (or KEDA
 *   scaled it to zero, which is healthy for an idle queue);
 * - `failed`: it cannot become ready without another spec (invalid, refused, RBAC not grantable);
 * - `waiting`: neither yet, with what is missing.
 */
export type Readiness =
  | { state: "ready"; detail: string; revision?: number }
  | { state: "failed"; detail: string }
  | { state: "waiting"; detail: string };

/** Ready conditions that no amount of waiting fixes: the spec itself has to change. */
const TERMINAL_REASONS = new Set(["InvalidSpec", "RefusedInEnvironment", "RbacNotGrantable"]);

function condition(component: ComponentResource, type: string): Condition | undefined {
  return component.status?.conditions?.find((c) => c.type === type);
}

export interface ReadinessTarget {
  /** metadata.generation of the Component this deploy wrote (or found, when it wrote nothing). */
  generation: number;
  /** The image the Deployment must run once re-pointed. */
  image: string;
}

/** The readiness rule (docs/deploy.md#tessera-deploy): pure, so unit tests pin it without a cluster. */
export function readiness(
  component: ComponentResource,
  deployment: DeploymentResource | undefined,
  target: ReadinessTarget,
): Readiness {
  const observed = component.status?.observedGeneration ?? 0;
  if (observed < target.generation)
    return {
      state: "waiting",
      detail: `the controller has not observed generation ${target.generation} yet (observed ${observed})`,
    };
  const ready = condition(component, "Ready");
  const valid = condition(component, "Valid");
  if (valid?.status === "False" || (ready?.status === "False" && TERMINAL_REASONS.has(ready.reason ?? "")))
    return {
      state: "failed",
      detail: `${(valid?.status === "False" ? valid : ready)?.reason ?? "NotReady"}: ${(valid?.status === "False" ? valid : ready)?.message ?? ""}`,
    };
  if (deployment === undefined) return { state: "waiting", detail: "no Deployment yet" };
  const image = deployment.spec?.template?.spec?.containers?.[0]?.image;
  if (image !== target.image)
    return { state: "waiting", detail: `the Deployment runs ${image ?? "nothing"}, not ${target.image} yet` };
  // With revisions, the controller names the live revision's ConfigMap in status: the pod template must carry its hash.
  const liveConfigMap = component.status?.configMapName;
  const templateHash = deployment.spec?.template?.metadata?.annotations?.[CONFIG_HASH_ANNOTATION];
  if (
    liveConfigMap !== undefined &&
    (templateHash === undefined || configMapName(component.metadata.name, templateHash) !== liveConfigMap)
  )
    return { state: "waiting", detail: `the Deployment does not read ConfigMap ${liveConfigMap} yet` };
  const revision = component.status?.revision;
  const withRevision = (r: Readiness): Readiness =>
    r.state === "ready" && revision !== undefined ? { ...r, revision } : r;
  const conditionReady = ready?.status === "True" && (ready.observedGeneration ?? observed) >= target.generation;
  const replicas = deployment.spec?.replicas ?? 1;
  if (replicas === 0)
    return conditionReady
      ? withRevision({ state: "ready", detail: "scaled to zero by KEDA (idle), healthy" })
      : {
          state: "waiting",
          detail: `scaled to zero; Ready is ${ready?.status ?? "unknown"} (${ready?.reason ?? "-"})`,
        };
  const status = deployment.status ?? {};
  const rolledOut =
    (status.observedGeneration ?? 0) >= (deployment.metadata.generation ?? 0) &&
    (status.updatedReplicas ?? 0) >= replicas &&
    (status.availableReplicas ?? status.readyReplicas ?? 0) >= replicas;
  if (rolledOut && conditionReady)
    return withRevision({ state: "ready", detail: `${status.readyReplicas ?? replicas}/${replicas} workers ready` });
  return {
    state: "waiting",
    detail: `${status.updatedReplicas ?? 0}/${replicas} updated, ${status.readyReplicas ?? 0}/${replicas} ready${
      ready !== undefined && ready.status !== "True" ? ` (${ready.reason ?? ready.status})` : ""
    }`,
  };
}
