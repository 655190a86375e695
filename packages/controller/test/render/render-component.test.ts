import { readFileSync, readdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { ScaledObject } from "@kubernetes-models/keda/keda.sh/v1alpha1";
import { ContractValidationError, durableConsumerName, jobStreamName, validateComponentSpec } from "@tessera/contract";
import { Deployment } from "kubernetes-models/apps/v1";
import { NetworkPolicy } from "kubernetes-models/networking.k8s.io/v1";
import { ConfigMap } from "kubernetes-models/v1";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { kubernetesObjects, renderComponent } from "../../src/render/render-component.js";
import { validateManifests, type KubeObject } from "../../src/validate/validate-manifests.js";
import { component, ctx, keyPaths, resolvedEnv, spec } from "./fixtures.js";

const examplesDir = fileURLToPath(new URL("../../../../examples/documents/components/", import.meta.url));
const examples = readdirSync(examplesDir)
  .filter((f) => f.endsWith(".yaml"))
  .map((file) => {
    const doc = parse(readFileSync(examplesDir + file, "utf8")) as { metadata: { name: string }; spec: unknown };
    const checked = validateComponentSpec(doc.spec);
    if (!checked.ok) throw checked.error;
    return { file, name: doc.metadata.name, spec: checked.value };
  });

function validateAll(objects: ReturnType<typeof kubernetesObjects>): void {
  for (const o of objects) {
    if (o.kind === "Deployment") new Deployment(o).validate();
    else if (o.kind === "ScaledObject") new ScaledObject(o).validate();
    else if (o.kind === "ConfigMap") new ConfigMap(o).validate();
    else new NetworkPolicy(o).validate();
  }
}

describe("renderComponent", () => {
  it("annotates every object with the build that rendered it and the component's maturity", () => {
    const build = { version: "1.4.0", commit: "0a1b2c3" };
    const objects = kubernetesObjects(renderComponent(component(spec({ maturity: "stable" })), { ...ctx, build }));
    for (const o of objects)
      expect(o.metadata.annotations).toEqual({
        "tessera.dev/version": "1.4.0",
        "tessera.dev/commit": "0a1b2c3",
        "tessera.dev/maturity": "stable",
      });
    // Not on the pod template (only the config hash is): a new controller build must not restart every worker.
    const deployment = objects.find((o) => o.kind === "Deployment") as {
      spec: { template: { metadata: { annotations?: Record<string, string> } } };
    };
    expect(Object.keys(deployment.spec.template.metadata.annotations ?? {})).toEqual(["tessera.dev/config-hash"]);
  });

  it("copies the deploy provenance onto every object, not onto the pod template", () => {
    const provenance = { deployedBy: "ana@example.com", gitCommit: "abc", gitDirty: "false" as const, rollbackOf: 2 };
    const r = renderComponent({ ...component(spec()), provenance }, ctx);
    for (const o of kubernetesObjects(r))
      expect(o.metadata.annotations).toMatchObject({
        "tessera.dev/deployed-by": "ana@example.com",
        "tessera.dev/git-commit": "abc",
        "tessera.dev/git-dirty": "false",
        "tessera.dev/rollback-of": "2",
      });
    expect(Object.keys(r.deployment.spec?.template.metadata?.annotations ?? {})).toEqual(["tessera.dev/config-hash"]);
  });

  it("merges the overlay over spec.config into a new hashed ConfigMap, which rolls the pods", () => {
    const s = spec({ config: { MODE: "fast", LEVEL: "1" } });
    const plain = renderComponent(component(s), ctx);
    const overlaid = renderComponent({ ...component(s), overlay: { LEVEL: "2", EXTRA: "x" } }, ctx);
    expect(overlaid.configMaps[0]?.data).toEqual({ MODE: "fast", LEVEL: "2", EXTRA: "x" });
    expect(overlaid.config.configMapName).not.toBe(plain.config.configMapName);
    expect(overlaid.deployment.spec?.template.metadata?.annotations).not.toEqual(
      plain.deployment.spec?.template.metadata?.annotations,
    );
    expect(resolvedEnv(overlaid.deployment, overlaid.configMaps)).toMatchObject({
      MODE: "fast",
      LEVEL: "2",
      EXTRA: "x",
    });
    expect(validateManifests(kubernetesObjects(overlaid) as unknown as KubeObject[])).toEqual([]);
  });

  it("renders the example project's specs into valid objects", () => {
    expect(examples.map((e) => e.name).sort()).toEqual(["chunk-embed", "extract"]);
    for (const e of examples) {
      const rendered = renderComponent(
        { name: e.name, namespace: "documents", uid: `uid-${e.name}`, spec: e.spec },
        ctx,
      );
      const objects = kubernetesObjects(rendered);
      expect(objects.map((o) => o.kind)).toEqual([
        "NetworkPolicy",
        "NetworkPolicy",
        "ConfigMap",
        "Deployment",
        "ScaledObject",
      ]);
      expect(() => validateAll(objects)).not.toThrow();
      // What `tessera render --validate` checks: unknown fields, restricted PSS and the cross-object invariants.
      expect(validateManifests(objects as unknown as KubeObject[])).toEqual([]);
      expect(rendered.scaledObject.spec.maxReplicaCount).toBe(4);
      expect(rendered.consumer.max_deliver).toBe(3);
    }
  });

  it("ties the ScaledObject to the provisioned stream and consumer", () => {
    for (const name of ["extract", "chunk-embed", "a1"]) {
      const r = renderComponent(component(spec(), { name }), ctx);
      const meta = r.scaledObject.spec.triggers[0]?.metadata as Record<string, string>;
      expect(meta["consumer"]).toBe(durableConsumerName(name));
      expect(meta["consumer"]).toBe(r.consumer.durable_name);
      expect(meta["stream"]).toBe(jobStreamName(name));
      expect(meta["stream"]).toBe(r.stream.name);
      expect(r.scaledObject.spec.scaleTargetRef.name).toBe(r.deployment.metadata.name);
    }
  });

  it("puts replicas in no rendered object", () => {
    const specs = [spec(), spec({ scaling: { minReplicas: 3, maxReplicas: 3 } }), ...examples.map((e) => e.spec)];
    for (const s of specs) {
      const r = renderComponent(component(s), ctx);
      for (const o of kubernetesObjects(r)) expect(keyPaths(o).filter((p) => /(^|\.)replicas$/.test(p))).toEqual([]);
      expect(JSON.stringify(kubernetesObjects(r))).not.toMatch(/"replicas"/);
    }
  });

  it("owns every object only when the uid is known", () => {
    // ConfigMaps excepted: the controller makes them dependents of the deploy revisions that use them.
    const owned = kubernetesObjects(renderComponent(component(spec(), { uid: "u-9" }), ctx)).filter(
      (o) => o.kind !== "ConfigMap",
    );
    for (const o of owned)
      expect(o.metadata.ownerReferences).toEqual([
        expect.objectContaining({ kind: "Component", name: "extract", uid: "u-9", controller: true }),
      ]);
    for (const o of kubernetesObjects(renderComponent(component(), ctx)))
      expect(o.metadata).not.toHaveProperty("ownerReferences");
  });

  it("refuses a spec that breaks the cross-field rules (a /0 or metadata CIDR never reaches a policy)", () => {
    expect(() =>
      renderComponent(component(spec({ egress: "allowlist", allowlist: { cidrs: ["0.0.0.0/0"] } })), ctx),
    ).toThrow(ContractValidationError);
    expect(() =>
      renderComponent(component(spec({ egress: "allowlist", allowlist: { cidrs: ["169.254.0.0/16"] } })), ctx),
    ).toThrow(/metadata/);
    expect(() => renderComponent(component(spec({ egress: "allowlist" })), ctx)).toThrow(ContractValidationError);
  });

  it("is pure: the same input renders the same output and the input is not changed", () => {
    const s = spec({
      config: { B: "2", A: "1" },
      egress: "allowlist",
      allowlist: { clusterPeers: [{ namespace: "db" }] },
    });
    const before = JSON.stringify(s);
    const a = JSON.stringify(renderComponent(component(s), ctx));
    expect(JSON.stringify(renderComponent(component(s), ctx))).toBe(a);
    expect(JSON.stringify(s)).toBe(before);
  });
});
