import { startControlPlane, type ControlPlane } from "@tessera/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  COMPONENT_CRD_NAME,
  COMPONENT_GROUP,
  COMPONENT_PLURAL,
  COMPONENT_VERSION,
  componentCrdYaml,
  componentSpecCelRules,
} from "../src/crd/index.js";
import { CEL_RULE_CASES, failingRules } from "../test/crd/rule-cases.js";
import { installComponentCrd } from "./cluster-env.js";

interface Status {
  message: string;
  reason: string;
  details?: { causes?: { reason: string; message: string; field: string }[] };
}

let cp: ControlPlane;
beforeAll(async () => {
  cp = await startControlPlane();
  await cp.request("POST", "/api/v1/namespaces", { metadata: { name: "crd" } });
});
afterAll(async () => {
  await cp?.stop();
});

let seq = 0;
const create = (spec: Record<string, unknown>) =>
  cp.request("POST", `/apis/${COMPONENT_GROUP}/${COMPONENT_VERSION}/namespaces/crd/${COMPONENT_PLURAL}`, {
    apiVersion: `${COMPONENT_GROUP}/${COMPONENT_VERSION}`,
    kind: "Component",
    metadata: { name: `c${++seq}` },
    spec,
  });

describe("the Component CRD on a real API server", () => {
  it("is accepted as written by `tessera render --crd`: structural, Established, no NonStructuralSchema", async () => {
    const crd = await installComponentCrd(cp);
    const conditions = crd.status.conditions;
    expect(conditions).toContainEqual(expect.objectContaining({ type: "Established", status: "True" }));
    expect(conditions).toContainEqual(expect.objectContaining({ type: "NamesAccepted", status: "True" }));
    expect(conditions.filter((c) => c.type === "NonStructuralSchema")).toEqual([]);
    expect(crd.metadata.name).toBe(COMPONENT_CRD_NAME);
    // The YAML the CLI prints is what was applied: the API server kept every CEL rule of the contract.
    const stored = await cp.request(
      "GET",
      `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${COMPONENT_CRD_NAME}`,
    );
    const spec = (
      stored.body as {
        spec: { versions: { schema: { openAPIV3Schema: { properties: { spec: Record<string, unknown> } } } }[] };
      }
    ).spec.versions[0]?.schema.openAPIV3Schema.properties.spec;
    expect(spec?.["x-kubernetes-validations"]).toEqual(componentSpecCelRules());
    expect(componentCrdYaml()).toContain("x-kubernetes-validations");
  });

  it("covers every CEL rule with at least one failing case", () => {
    const failing = new Set(CEL_RULE_CASES.flatMap((c) => failingRules(c.spec).map((r) => r.message)));
    for (const rule of componentSpecCelRules()) expect(failing, rule.rule).toContain(rule.message);
  });

  it.each(CEL_RULE_CASES)("enforces the rules with the contract's messages: $name", async ({ spec, cel }) => {
    const res = await create(spec);
    if (cel.length === 0) {
      expect(res.status, JSON.stringify(res.body)).toBe(201);
      return;
    }
    expect(res.status, JSON.stringify(res.body)).toBe(422);
    const status = res.body as Status;
    expect(status.reason).toBe("Invalid");
    // One cause per failing rule, at the rule's field, with the rule's message: exactly the rules the offline
    // CEL interpreter of the unit tests finds failing.
    const expected = failingRules(spec).map((r) => ({ field: `spec${r.fieldPath ?? ""}`, message: r.message }));
    expect(expected.map((e) => e.field)).toEqual(cel.map((f) => `spec${f}`));
    const causes = (status.details?.causes ?? []).map((c) => ({ field: c.field, message: c.message }));
    expect(causes).toHaveLength(expected.length);
    for (const e of expected) {
      expect(causes).toContainEqual({ field: e.field, message: expect.stringContaining(e.message) as unknown });
      expect(status.message).toContain(e.message);
    }
  });
});
