import { Type, type Static } from "@sinclair/typebox";
import type { ComponentSpec } from "./component-spec.js";
import type { ValidationIssue } from "./validation-error.js";

/**
 * `spec.canary`: a second worker Deployment on the component's one stream and durable consumer, running another
 * image, or the same image with some `config` keys changed, or both. `weight` is the canary's share of the
 * component's workers, not of its jobs: on a work queue every worker pulls from the same consumer, so jobs follow
 * capacity, and only while both revisions are busy (docs/decisions/0040-canary-weight-on-a-work-queue.md).
 */
export const CanarySpecSchema = Type.Object(
  {
    /** The canary's image; default the component's. */
    image: Type.Optional(Type.String({ minLength: 1, maxLength: 1024 })),
    /** Merged over the component's `config` (a key here replaces the component's value) for the canary only. */
    config: Type.Optional(Type.Record(Type.String({ minLength: 1, maxLength: 253 }), Type.String())),
    /** Percent of the component's workers that run the canary (1-99; 0 is `tessera abort`, 100 `tessera promote`). */
    weight: Type.Integer({
      minimum: 1,
      maximum: 99,
      description: "percent of the component's workers that run the canary (1-99)",
    }),
  },
  { additionalProperties: false },
);
export type CanarySpec = Static<typeof CanarySpecSchema>;

/** The two revisions a component with a canary runs; a worker learns its own from TESSERA_REVISION. */
export const REVISIONS = ["stable", "canary"] as const;
export type Revision = (typeof REVISIONS)[number];
export const REVISION_ENV = "TESSERA_REVISION";

/** TESSERA_REVISION as a revision: anything but "canary" (unset included) is the stable one. */
export function revisionFromEnv(env: Record<string, string | undefined>): Revision {
  return env[REVISION_ENV] === "canary" ? "canary" : "stable";
}

/**
 * The Kubernetes name of a component's canary Deployment and ScaledObject. The dot keeps it apart from every
 * component's own name (a DNS-1123 label has no dot), so `foo`'s canary can never be the component `foo-canary`.
 */
export function canaryWorkloadName(component: string): string {
  return `${component}.canary`;
}

/**
 * Which revision ran a job, from the Result's `instance_id`: in Kubernetes mode a worker's instance id is its pod
 * name, and a canary pod's name starts with its Deployment's. Elsewhere (no canary) every instance is stable.
 */
export function revisionOfInstance(component: string, instanceId: string): Revision {
  return instanceId.startsWith(canaryInstancePrefix(component)) ? "canary" : "stable";
}

/** What the instance id (pod name) of every canary worker of `component` starts with. */
export function canaryInstancePrefix(component: string): string {
  return `${canaryWorkloadName(component)}-`;
}

/** The spec the canary runs: the component's, with the canary's image and its config merged over, no canary. */
export function canaryEffectiveSpec(spec: ComponentSpec): ComponentSpec | undefined {
  const canary = spec.canary;
  if (canary === undefined) return undefined;
  const { canary: _omitted, ...rest } = spec;
  const config = canary.config !== undefined ? { ...(spec.config ?? {}), ...canary.config } : spec.config;
  return { ...rest, image: canary.image ?? spec.image, ...(config !== undefined ? { config } : {}) };
}

/** What `tessera promote` writes: the canary's spec becomes the component's (no canary left). */
export function promotedSpec(spec: ComponentSpec): ComponentSpec {
  return canaryEffectiveSpec(spec) ?? spec;
}

/** What `tessera abort` writes: the component's spec without its canary. */
export function abortedSpec(spec: ComponentSpec): ComponentSpec {
  const { canary: _omitted, ...rest } = spec;
  return rest;
}

/** A canary has to change something: another image, or config. */
export function canaryIssues(spec: ComponentSpec): ValidationIssue[] {
  const canary = spec.canary;
  if (canary === undefined) return [];
  const newImage = canary.image !== undefined && canary.image !== spec.image;
  if (newImage || canary.config !== undefined) return [];
  return [
    {
      path: "canary",
      expected: "an image different from the component's image, or config (a canary has to run something else)",
      received: canary.image === undefined ? "neither image nor config" : "the component's own image and no config",
    },
  ];
}
