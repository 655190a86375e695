/**
 * The fields of a KEDA ScaledObject (keda.sh/v1alpha1, KEDA 2.x CRD). @kubernetes-models/keda validates
 * types but lets unknown fields through, so a misspelled key is caught here.
 */
const SCALED_OBJECT_SPEC = new Set([
  "scaleTargetRef",
  "pollingInterval",
  "cooldownPeriod",
  "initialCooldownPeriod",
  "idleReplicaCount",
  "minReplicaCount",
  "maxReplicaCount",
  "fallback",
  "advanced",
  "triggers",
]);
const SCALE_TARGET_REF = new Set(["name", "kind", "apiVersion", "envSourceContainerName"]);
const TRIGGER = new Set(["type", "name", "metadata", "metricType", "useCachedMetrics", "authenticationRef"]);
const TOP = new Set(["apiVersion", "kind", "metadata", "spec", "status"]);

export function unknownScaledObjectFields(object: Record<string, unknown>): string[] {
  const out: string[] = [];
  const check = (value: unknown, known: Set<string>, path: string): void => {
    if (typeof value !== "object" || value === null) return;
    for (const key of Object.keys(value)) if (!known.has(key)) out.push(path === "" ? key : `${path}.${key}`);
  };
  check(object, TOP, "");
  const spec = object["spec"] as Record<string, unknown> | undefined;
  check(spec, SCALED_OBJECT_SPEC, "spec");
  check(spec?.["scaleTargetRef"], SCALE_TARGET_REF, "spec.scaleTargetRef");
  for (const [i, t] of ((spec?.["triggers"] ?? []) as unknown[]).entries()) check(t, TRIGGER, `spec.triggers[${i}]`);
  return out;
}
