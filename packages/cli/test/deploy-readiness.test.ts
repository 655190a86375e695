/** The readiness rule `tessera deploy` and `rollback --wait` wait on (docs/deploy.md#tessera-deploy). */
import { CONFIG_HASH_ANNOTATION, configHash, configMapName } from "@tessera/contract";
import { describe, expect, it } from "vitest";
import type { ComponentResource, DeploymentResource } from "../src/deploy/cluster.js";
import { readiness } from "../src/deploy/readiness.js";

const HASH = configHash({ MODE: "fast" });

function component(status: ComponentResource["status"], generation = 3): ComponentResource {
  return {
    apiVersion: "tessera.dev/v1alpha1",
    kind: "Component",
    metadata: { name: "extract", namespace: "docs", generation },
    spec: { image: "example/extract:2" },
    status,
  };
}
const ready = (reason = "ScaledToZero") => ({ type: "Ready", status: "True", reason, observedGeneration: 3 });
function deployment(replicas: number, status: DeploymentResource["status"] = {}, hash = HASH): DeploymentResource {
  return {
    metadata: { name: "extract", generation: 5 },
    spec: {
      replicas,
      template: {
        metadata: { annotations: { [CONFIG_HASH_ANNOTATION]: hash } },
        spec: { containers: [{ name: "worker", image: "example/extract:2" }] },
      },
    },
    status,
  };
}
const target = { generation: 3, image: "example/extract:2" };

describe("the deploy readiness rule", () => {
  it("waits for the controller to observe the generation written", () => {
    expect(readiness(component({ observedGeneration: 2 }), deployment(0), target)).toEqual({
      state: "waiting",
      detail: "the controller has not observed generation 3 yet (observed 2)",
    });
  });

  it("fails at once on a spec the controller refuses, instead of waiting out the timeout", () => {
    const invalid = component({
      observedGeneration: 3,
      conditions: [{ type: "Valid", status: "False", reason: "InvalidSpec", message: "spec.image: expected a string" }],
    });
    expect(readiness(invalid, undefined, target)).toEqual({
      state: "failed",
      detail: "InvalidSpec: spec.image: expected a string",
    });
    const rbac = component({
      observedGeneration: 3,
      conditions: [{ type: "Ready", status: "False", reason: "RbacNotGrantable", message: "Role extract refused" }],
    });
    expect(readiness(rbac, deployment(0), target).state).toBe("failed");
  });

  it("waits until the Deployment runs the new image and, with revisions, reads the live revision's ConfigMap", () => {
    const old = deployment(0);
    old.spec!.template!.spec!.containers![0]!.image = "example/extract:1";
    const c = component({ observedGeneration: 3, conditions: [ready()] });
    expect(readiness(c, old, target).detail).toBe("the Deployment runs example/extract:1, not example/extract:2 yet");
    const withRevision = component({
      observedGeneration: 3,
      revision: 4,
      configMapName: configMapName("extract", HASH),
      conditions: [ready()],
    });
    expect(readiness(withRevision, deployment(0, {}, configHash({ MODE: "old" })), target).detail).toBe(
      `the Deployment does not read ConfigMap ${configMapName("extract", HASH)} yet`,
    );
    expect(readiness(withRevision, deployment(0), target)).toEqual({
      state: "ready",
      detail: "scaled to zero by KEDA (idle), healthy",
      revision: 4,
    });
  });

  it("counts a Deployment KEDA scaled to zero as ready only with the component's Ready condition", () => {
    const starting = component({
      observedGeneration: 3,
      conditions: [{ type: "Ready", status: "False", reason: "WorkersStarting", observedGeneration: 3 }],
    });
    expect(readiness(starting, deployment(0), target)).toEqual({
      state: "waiting",
      detail: "scaled to zero; Ready is False (WorkersStarting)",
    });
  });

  it("with workers, waits for the rollout: observed generation, updated and available replicas", () => {
    const c = component({ observedGeneration: 3, conditions: [ready("WorkersReady")] });
    expect(
      readiness(c, deployment(2, { observedGeneration: 5, updatedReplicas: 1, readyReplicas: 1 }), target),
    ).toEqual({
      state: "waiting",
      detail: "1/2 updated, 1/2 ready",
    });
    expect(
      readiness(
        c,
        deployment(2, { observedGeneration: 5, updatedReplicas: 2, readyReplicas: 2, availableReplicas: 2 }),
        target,
      ),
    ).toEqual({ state: "ready", detail: "2/2 workers ready" });
  });
});
