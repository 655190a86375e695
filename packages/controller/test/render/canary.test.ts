import { ScaledObject } from "@kubernetes-models/keda/keda.sh/v1alpha1";
import { ContractValidationError, REVISION_ENV, canaryWorkloadName, promotedSpec } from "@tessera/contract";
import { Deployment } from "kubernetes-models/apps/v1";
import { describe, expect, it } from "vitest";
import { scalingShares } from "../../src/render/canary.js";
import { REVISION_LABEL } from "../../src/render/labels.js";
import { kubernetesObjects, renderComponent } from "../../src/render/render-component.js";
import { validateManifests, type KubeObject } from "../../src/validate/validate-manifests.js";
import { component, ctx, resolvedEnv, spec } from "./fixtures.js";

const withCanary = spec({
  config: { MODE: "fast", LEVEL: "1" },
  scaling: { minReplicas: 0, maxReplicas: 10, queueDepthTarget: 10 },
  canary: { image: "ghcr.io/example/worker:2.0.0", config: { MODE: "careful" }, weight: 20 },
});

/** What KEDA gives one ScaledObject at a consumer lag (ceil(lag / lagThreshold) within its bounds). */
function replicasAt(
  scaled: { spec?: { minReplicaCount?: number; maxReplicaCount?: number; triggers: unknown[] } },
  lag: number,
): number {
  const trigger = scaled.spec!.triggers[0] as { metadata: { lagThreshold: string } };
  const wanted = Math.ceil(lag / Number(trigger.metadata.lagThreshold));
  return Math.min(scaled.spec!.maxReplicaCount!, Math.max(scaled.spec!.minReplicaCount!, wanted));
}

describe("a Component with spec.canary", () => {
  const rendered = renderComponent(component(withCanary, { uid: "u-1" }), ctx);
  const envOf = (d: Parameters<typeof resolvedEnv>[0]) => resolvedEnv(d, rendered.configMaps);
  const canary = rendered.canary!;

  it("renders a second Deployment and ScaledObject on the same stream and consumer, named apart", () => {
    expect(canary.deployment.metadata.name).toBe("extract.canary");
    expect(canary.deployment.metadata.name).toBe(canaryWorkloadName("extract"));
    expect(canary.scaledObject.metadata.name).toBe("extract.canary");
    expect(canary.scaledObject.spec?.scaleTargetRef.name).toBe("extract.canary");
    const [stableTrigger, canaryTrigger] = [rendered.scaledObject, canary.scaledObject].map(
      (s) => s.spec!.triggers[0]!.metadata as Record<string, string>,
    );
    expect(canaryTrigger!["stream"]).toBe(stableTrigger!["stream"]);
    expect(canaryTrigger!["consumer"]).toBe(stableTrigger!["consumer"]);
    // Both owned by the Component, so deleting it removes the canary too.
    expect(canary.deployment.metadata.ownerReferences?.[0]?.uid).toBe("u-1");
    const objects = kubernetesObjects(rendered);
    expect(objects.map((o) => `${o.kind}/${o.metadata.name}`)).toEqual([
      "NetworkPolicy/extract-default-deny",
      "NetworkPolicy/extract-egress",
      `ConfigMap/${rendered.config.configMapName}`,
      `ConfigMap/${canary.config.configMapName}`,
      "Deployment/extract",
      "ScaledObject/extract",
      "Deployment/extract.canary",
      "ScaledObject/extract.canary",
    ]);
    new Deployment(canary.deployment).validate();
    new ScaledObject(canary.scaledObject).validate();
    expect(validateManifests(objects as unknown as KubeObject[])).toEqual([]);
  });

  it("runs the canary's image with its config merged over, and tells its pods which revision they are", () => {
    expect(canary.deployment.spec?.template.spec?.containers[0]?.image).toBe("ghcr.io/example/worker:2.0.0");
    expect(envOf(canary.deployment)).toMatchObject({ MODE: "careful", LEVEL: "1", [REVISION_ENV]: "canary" });
    // Each revision reads its own content-hashed ConfigMap.
    expect(canary.config.configMapName).not.toBe(rendered.config.configMapName);
    expect(rendered.configMaps.map((c) => c.immutable)).toEqual([true, true]);
    expect(envOf(rendered.deployment)).toMatchObject({ MODE: "fast", LEVEL: "1" });
    expect(envOf(rendered.deployment)).not.toHaveProperty(REVISION_ENV);
    // The canary's selector cannot adopt stable pods; the NetworkPolicies (selecting by component) cover both.
    expect(canary.deployment.spec?.selector.matchLabels).toMatchObject({ [REVISION_LABEL]: "canary" });
    expect(canary.deployment.spec?.template.metadata?.labels).toMatchObject({ [REVISION_LABEL]: "canary" });
    const policySelector = rendered.networkPolicies[0]?.spec?.podSelector?.matchLabels ?? {};
    expect(Object.keys(policySelector).length).toBeGreaterThan(0);
    for (const [k, v] of Object.entries(policySelector))
      expect(canary.deployment.spec?.template.metadata?.labels?.[k]).toBe(v);
  });

  it("leaves the stable Deployment exactly as without a canary (adding one rolls no stable pod)", () => {
    const { canary: _c, ...plain } = withCanary;
    const before = renderComponent(component(plain, { uid: "u-1" }), ctx);
    expect(rendered.deployment).toEqual(before.deployment);
    expect(before.canary).toBeUndefined();
    expect(kubernetesObjects(before)).toHaveLength(5);
  });

  it("splits the scaling so that at any backlog the replicas follow the weight, and add up to the component's", () => {
    for (const weight of [1, 10, 20, 33, 50, 75, 99]) {
      const s = { ...withCanary, canary: { ...withCanary.canary!, weight } };
      const r = renderComponent(component(s), ctx);
      for (const lag of [200, 1_000, 100_000]) {
        const stable = replicasAt(r.scaledObject, lag);
        const canaryReplicas = replicasAt(r.canary!.scaledObject, lag);
        const alone = Math.min(10, Math.ceil(lag / 10));
        // Each revision rounds up on its own: together at most one worker each above the component alone.
        expect(stable + canaryReplicas).toBeGreaterThanOrEqual(alone - 1);
        expect(stable + canaryReplicas).toBeLessThanOrEqual(alone + 2);
        // At full scale the canary's share of workers is the weight, to the nearest worker.
        if (lag >= 100_000)
          expect(Math.abs(canaryReplicas / (stable + canaryReplicas) - weight / 100)).toBeLessThanOrEqual(0.1);
      }
    }
    expect(scalingShares(spec({ scaling: { minReplicas: 2, maxReplicas: 4 } }), 25)).toEqual({
      stable: { minReplicas: 1, maxReplicas: 3, queueDepthTarget: 13 },
      canary: { minReplicas: 1, maxReplicas: 1, queueDepthTarget: 40 },
    });
  });

  it("promote renders the canary's spec as the component's, with no canary left", () => {
    const promoted = renderComponent(component(promotedSpec(withCanary)), ctx);
    const envOf = (d: Parameters<typeof resolvedEnv>[0]) => resolvedEnv(d, promoted.configMaps);
    expect(promoted.canary).toBeUndefined();
    expect(promoted.deployment.spec?.template.spec?.containers[0]?.image).toBe("ghcr.io/example/worker:2.0.0");
    expect(envOf(promoted.deployment)).toMatchObject({ MODE: "careful", LEVEL: "1" });
    expect(envOf(promoted.deployment)).not.toHaveProperty(REVISION_ENV);
    expect(promoted.scaledObject.spec?.maxReplicaCount).toBe(10);
  });

  it("refuses a canary that runs nothing new, and config that sets the revision variable", () => {
    expect(() => renderComponent(component({ ...withCanary, canary: { weight: 5 } }), ctx)).toThrow(
      ContractValidationError,
    );
    expect(() =>
      renderComponent(component({ ...withCanary, canary: { config: { [REVISION_ENV]: "stable" }, weight: 5 } }), ctx),
    ).toThrow(/TESSERA_REVISION is already set by the platform/);
    expect(() => renderComponent(component(spec({ config: { [REVISION_ENV]: "canary" } })), ctx)).toThrow(
      /TESSERA_REVISION is already reserved/,
    );
  });
});
