import { readFile, readdir } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { componentSpecJsonSchema, componentSpecRuleIssues, type ComponentSpec } from "@tessera/contract";
import Ajv from "ajv";
import { CustomResourceDefinition } from "kubernetes-models/apiextensions.k8s.io/v1/CustomResourceDefinition";
import { describe, expect, it } from "vitest";
import { parse, parseAllDocuments } from "yaml";
import {
  COMPONENT_CRD_NAME,
  CRD_MAX_ALLOWLIST_CIDRS,
  componentCrd,
  componentCrdYaml,
  componentOpenApiSchema,
  componentSpecCelRules,
  type StructuralSchema,
} from "../../src/crd/index.js";
import { CEL_SUBSET_FUNCTIONS, calledFunctions, parseCel, selfPaths } from "./cel-subset.js";
import { CEL_RULE_CASES, defaulted, failingRules } from "./rule-cases.js";
import { structuralViolations, withClosedObjects } from "./structural-checker.js";

const examplesDir = fileURLToPath(new URL("../../../../examples/documents/components/", import.meta.url));

const crd = componentCrd();
const version = crd.spec.versions[0];
const schema = componentOpenApiSchema();
const specSchema = schema.properties?.["spec"] as StructuralSchema;

function strictValidator(): Ajv.ValidateFunction {
  // Ajv 6 (draft-07) ignores the x-kubernetes-* keywords; int32/int64 are OpenAPI formats it does not know.
  const ajv = new Ajv({ allErrors: true, unknownFormats: ["int32", "int64"] });
  return ajv.compile(withClosedObjects(schema) as object);
}

async function exampleManifests(): Promise<{ file: string; doc: Record<string, unknown> }[]> {
  const files = (await readdir(examplesDir)).filter((f) => f.endsWith(".yaml")).sort();
  const out: { file: string; doc: Record<string, unknown> }[] = [];
  for (const file of files) {
    for (const doc of parseAllDocuments(await readFile(`${examplesDir}${file}`, "utf8"))) {
      const value = doc.toJS() as Record<string, unknown> | null;
      if (value !== null) out.push({ file, doc: value });
    }
  }
  return out;
}

describe("componentCrd", () => {
  it("names, scope, version, status subresource and printer columns", () => {
    expect(crd.metadata.name).toBe("components.tessera.dev");
    expect(crd.metadata.name).toBe(COMPONENT_CRD_NAME);
    expect(crd.spec.group).toBe("tessera.dev");
    expect(crd.spec.names).toMatchObject({
      kind: "Component",
      plural: "components",
      singular: "component",
      shortNames: ["tcomp"],
    });
    expect(crd.spec.scope).toBe("Namespaced");
    expect(crd.spec.versions).toHaveLength(1);
    expect(version).toMatchObject({ name: "v1alpha1", served: true, storage: true, subresources: { status: {} } });
    expect(version?.additionalPrinterColumns.map((c) => [c.name, c.type, c.jsonPath])).toEqual([
      ["Egress", "string", ".spec.egress"],
      ["Maturity", "string", ".spec.maturity"],
      ["Ready", "string", '.status.conditions[?(@.type=="Ready")].status'],
      ["Replicas", "integer", ".status.replicas"],
      ["Canary", "integer", ".spec.canary.weight"],
      ["Revision", "integer", ".status.revision"],
      ["Age", "date", ".metadata.creationTimestamp"],
    ]);
  });

  it("is a structural schema, node by node", () => {
    expect(structuralViolations(version?.schema.openAPIV3Schema)).toEqual([]);
  });

  it("validates as an apiextensions.k8s.io/v1 CustomResourceDefinition (kubernetes-models)", () => {
    expect(() =>
      new CustomResourceDefinition(
        crd as unknown as ConstructorParameters<typeof CustomResourceDefinition>[0],
      ).validate(),
    ).not.toThrow();
    // The validator is not vacuous: a missing required field, or a mistyped one deep in the schema, fails.
    const noNames = structuredClone(crd) as unknown as { spec: Record<string, unknown> };
    delete noNames.spec["names"];
    const badSchema = structuredClone(crd);
    (
      badSchema.spec.versions[0]?.schema.openAPIV3Schema.properties?.["spec"]?.properties?.["image"] as Record<
        string,
        unknown
      >
    )["minLength"] = "1";
    for (const broken of [noNames, badSchema]) {
      expect(() =>
        new CustomResourceDefinition(
          broken as unknown as ConstructorParameters<typeof CustomResourceDefinition>[0],
        ).validate(),
      ).toThrow();
    }
  });

  it("generates spec from the contract: every contract field, its required list, its defaults and descriptions", () => {
    const contract = componentSpecJsonSchema() as {
      properties: Record<string, Record<string, unknown>>;
      required: string[];
    };
    expect(Object.keys(specSchema.properties ?? {})).toEqual(Object.keys(contract.properties));
    expect(specSchema.required).toEqual(contract.required);
    expect(specSchema.properties?.["egress"]).toMatchObject({
      type: "string",
      enum: ["none", "fetch-controlled", "allowlist"],
      default: "none",
    });
    expect(specSchema.properties?.["inputMode"]).toMatchObject({
      type: "string",
      enum: ["content-ref", "source-locator"],
      default: "content-ref",
    });
    expect(specSchema.properties?.["config"]).toEqual({ type: "object", additionalProperties: { type: "string" } });
    const contractTimeouts = contract.properties["timeouts"] as { properties: Record<string, { description: string }> };
    expect(specSchema.properties?.["timeouts"]?.properties?.["wallClock"]?.description).toBe(
      contractTimeouts.properties["wallClock"]?.description,
    );
    expect(specSchema.properties?.["timeouts"]?.properties?.["wallClock"]?.description).toMatch(/duration/);
    const ports = specSchema.properties?.["allowlist"]?.properties?.["ports"]?.items?.properties?.["port"];
    expect(ports).toEqual({ type: "integer", minimum: 1, maximum: 65535 });
    // The one CRD-only bound, for the CEL cost budget.
    expect(specSchema.properties?.["allowlist"]?.properties?.["cidrs"]?.maxItems).toBe(CRD_MAX_ALLOWLIST_CIDRS);
  });

  it("has spec required and a status with conditions as a map list keyed by type", () => {
    expect(schema.required).toEqual(["spec"]);
    const status = schema.properties?.["status"];
    expect(status?.properties?.["observedGeneration"]).toMatchObject({ type: "integer", format: "int64" });
    expect(status?.properties?.["replicas"]).toMatchObject({ type: "integer" });
    const conditions = status?.properties?.["conditions"];
    expect(conditions).toMatchObject({
      type: "array",
      "x-kubernetes-list-type": "map",
      "x-kubernetes-list-map-keys": ["type"],
    });
    expect(conditions?.items?.properties?.["status"]?.enum).toEqual(["True", "False", "Unknown"]);
    expect(conditions?.items?.properties?.["lastTransitionTime"]).toEqual({ type: "string", format: "date-time" });
    expect(Object.keys(conditions?.items?.properties ?? {}).sort()).toEqual([
      "lastTransitionTime",
      "message",
      "observedGeneration",
      "reason",
      "status",
      "type",
    ]);
  });

  it("componentCrdYaml() parses back to componentCrd()", () => {
    const text = componentCrdYaml();
    expect(text.startsWith("# Generated")).toBe(true);
    expect(parse(text)).toEqual(JSON.parse(JSON.stringify(crd)));
  });
});

describe("the example manifests against the generated schema (unknown fields rejected in the test)", () => {
  it("every example in examples/documents/components validates", async () => {
    const validate = strictValidator();
    const examples = await exampleManifests();
    expect(examples.length).toBeGreaterThanOrEqual(2);
    for (const { file, doc } of examples) {
      expect({ file, valid: validate(doc), errors: validate.errors ?? null }).toEqual({
        file,
        valid: true,
        errors: null,
      });
      expect({ file, failing: failingRules(doc["spec"] as Record<string, unknown>) }).toEqual({ file, failing: [] });
    }
  });

  it("a misspelled spec field, a bad enum and an out-of-range port fail", async () => {
    const validate = strictValidator();
    const [first] = await exampleManifests();
    const base = first?.doc as { spec: Record<string, unknown> };
    const cases: [Record<string, unknown>, string][] = [
      [{ ...base.spec, concurrancy: 2 }, "additionalProperties"],
      [{ ...base.spec, timeouts: { wallclock: "30s" } }, "additionalProperties"],
      [{ ...base.spec, egress: "everything" }, "enum"],
      [
        { ...base.spec, egress: "allowlist", allowlist: { cidrs: ["203.0.113.0/24"], ports: [{ port: 70000 }] } },
        "maximum",
      ],
      [{ ...base.spec, image: undefined }, "required"],
    ];
    for (const [spec, keyword] of cases) {
      const doc = JSON.parse(JSON.stringify({ ...base, spec })) as unknown;
      expect(validate(doc)).toBe(false);
      expect(validate.errors?.map((e) => e.keyword)).toContain(keyword);
    }
  });
});

describe("the CEL rules", () => {
  const rules = componentSpecCelRules();
  const specPaths = new Set<string>();
  const collect = (node: StructuralSchema | undefined, prefix: string): void => {
    for (const [name, child] of Object.entries(node?.properties ?? {})) {
      specPaths.add(`${prefix}${name}`);
      collect(child, `${prefix}${name}.`);
    }
  };
  collect(specSchema, "");

  it("are on spec, each with an actionable message and a fieldPath that exists", () => {
    expect(specSchema["x-kubernetes-validations"]).toEqual(rules);
    expect(rules.length).toBeGreaterThanOrEqual(7);
    for (const r of rules) {
      expect(r.message.length, r.rule).toBeGreaterThan(20);
      expect(r.fieldPath, r.rule).toMatch(/^\.[A-Za-z]/);
      expect(specPaths.has((r.fieldPath as string).slice(1)), r.fieldPath).toBe(true);
    }
  });

  it("are plausible CEL: non-empty, balanced, parsable, only known functions and existing fields", () => {
    for (const { rule } of rules) {
      expect(rule.trim().length).toBeGreaterThan(0);
      const outsideStrings = rule.replace(/'(?:[^'\\]|\\.)*'/g, "''");
      let depth = 0;
      for (const ch of outsideStrings) {
        depth += ch === "(" ? 1 : ch === ")" ? -1 : 0;
        expect(depth, rule).toBeGreaterThanOrEqual(0);
      }
      expect(depth, rule).toBe(0);
      expect(() => parseCel(rule), rule).not.toThrow();
      for (const fn of calledFunctions(rule)) expect(CEL_SUBSET_FUNCTIONS, `${fn} in ${rule}`).toContain(fn);
      for (const path of selfPaths(rule)) expect(specPaths.has(path), `self.${path} in ${rule}`).toBe(true);
    }
  });

  it("uses the Kubernetes CIDR library for the metadata-address and /0 checks", () => {
    const text = rules.map((r) => r.rule).join("\n");
    expect(text).toContain("cidr(c).containsIP(ip('169.254.169.254'))");
    expect(text).toContain("cidr(c).prefixLength() > 0");
  });

  it.each(CEL_RULE_CASES)("agree with componentSpecRuleIssues: $name", ({ spec, cel, contract }) => {
    const failing = failingRules(spec);
    // A rule must fail on its own condition, never with a CEL runtime error (missing field, bad CIDR).
    expect(failing.filter((f) => f.error !== undefined)).toEqual([]);
    expect(failing.map((f) => f.fieldPath)).toEqual(cel);
    expect(componentSpecRuleIssues(defaulted(spec) as ComponentSpec).map((i) => i.path)).toEqual(contract);
  });
});
