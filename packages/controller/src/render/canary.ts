import { ComponentDefaults, canaryEffectiveSpec, type ComponentSpec } from "@tessera/contract";
import type { RenderContext } from "./context.js";
import { renderDeployment, type DeploymentObject, type WorkloadConfig } from "./deployment.js";
import { workloadConfig } from "./config-map.js";
import { canaryWorkload, type ComponentRef } from "./labels.js";
import { renderScaledObject, type ScaledObjectObject } from "./scaled-object.js";

/** One revision's part of the component's scaling. */
export interface ScalingShare {
  minReplicas: number;
  maxReplicas: number;
  /** The KEDA lagThreshold of this revision's ScaledObject. */
  queueDepthTarget: number;
}

/**
 * How a canary of `weight` percent splits the component's scaling. Both ScaledObjects read the lag L of the one
 * durable consumer, and KEDA gives each ceil(L / lagThreshold) replicas; dividing the component's target by each
 * revision's share makes the replica counts ceil(L × share / target), so together they are what the component
 * alone would get (give or take one from rounding each), in the ratio of the weight. Replica bounds are split the
 * same way; each revision keeps at least one worker at its maximum (a revision that cannot run is no canary) and
 * the stable one keeps at least one at its minimum when the component has one.
 */
export function scalingShares(spec: ComponentSpec, weight: number): { stable: ScalingShare; canary: ScalingShare } {
  const min = spec.scaling?.minReplicas ?? ComponentDefaults.minReplicas;
  const max = spec.scaling?.maxReplicas ?? ComponentDefaults.maxReplicas;
  const target = spec.scaling?.queueDepthTarget ?? ComponentDefaults.queueDepthTarget;
  const share = weight / 100;
  const canaryMax = Math.max(1, Math.round(max * share));
  const stableMax = Math.max(1, max - canaryMax);
  const canaryMin = Math.min(canaryMax, Math.round(min * share));
  const stableMin = Math.min(stableMax, min === 0 ? 0 : Math.max(1, min - canaryMin));
  return {
    stable: {
      minReplicas: stableMin,
      maxReplicas: stableMax,
      queueDepthTarget: Math.max(1, Math.round(target / (1 - share))),
    },
    canary: {
      minReplicas: canaryMin,
      maxReplicas: canaryMax,
      queueDepthTarget: Math.max(1, Math.round(target / share)),
    },
  };
}

/** The spec with one revision's share of the scaling in place of the component's. */
export function withScaling(spec: ComponentSpec, share: ScalingShare): ComponentSpec {
  return { ...spec, scaling: { ...spec.scaling, ...share } };
}

export interface RenderedCanary {
  deployment: DeploymentObject;
  scaledObject: ScaledObjectObject;
  config: WorkloadConfig;
}

/**
 * The canary's Deployment and ScaledObject (`<name>.canary`): the spec the canary runs (contract
 * `canaryEffectiveSpec`) with its share of the scaling, on the component's own stream and consumer. Its config is
 * the stable workers' effective config (`stableConfig`, overlay included) with the canary's keys over it, in a
 * hashed ConfigMap of its own. Undefined without a canary.
 */
export function renderCanary(
  component: ComponentRef,
  spec: ComponentSpec,
  ctx: RenderContext,
  stableConfig: Readonly<Record<string, string>>,
): RenderedCanary | undefined {
  const effective = canaryEffectiveSpec(spec);
  if (effective === undefined || spec.canary === undefined) return undefined;
  const canarySpec = withScaling(effective, scalingShares(spec, spec.canary.weight).canary);
  const workload = canaryWorkload(component.name);
  const config = workloadConfig(component.name, { ...stableConfig, ...(spec.canary.config ?? {}) });
  return {
    deployment: renderDeployment(component, canarySpec, ctx, config, workload),
    scaledObject: renderScaledObject(component, canarySpec, ctx, workload),
    config,
  };
}
