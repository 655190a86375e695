import { Type } from "@sinclair/typebox";
import { ComponentSpecSchema, componentSpecJsonSchema } from "@tessera/contract";
import { describe, expect, it } from "vitest";
import { StructuralSchemaError, toStructuralSchema } from "../../src/crd/structural-schema.js";
import { structuralViolations } from "./structural-checker.js";

describe("toStructuralSchema", () => {
  it("the contract's own JSON Schema is not structural; the converted one is", () => {
    expect(structuralViolations(componentSpecJsonSchema())).toEqual(
      expect.arrayContaining([
        "(root): additionalProperties: false",
        "(root).config: has patternProperties",
        "(root).inputMode: has anyOf",
        "(root).inputMode: no type",
      ]),
    );
    expect(structuralViolations(toStructuralSchema(componentSpecJsonSchema()))).toEqual([]);
  });

  it("a raw TypeBox schema (with its symbol keys) converts exactly like its JSON form", () => {
    expect(toStructuralSchema(ComponentSpecSchema)).toEqual(toStructuralSchema(componentSpecJsonSchema()));
  });

  it("does not modify its input", () => {
    const input = componentSpecJsonSchema();
    const before = JSON.stringify(input);
    toStructuralSchema(input);
    expect(JSON.stringify(input)).toBe(before);
  });

  it("drops additionalProperties: false, keeps required, descriptions and defaults", () => {
    const out = toStructuralSchema(
      Type.Object(
        { a: Type.String({ description: "an a", default: "x" }), b: Type.Optional(Type.Integer()) },
        { additionalProperties: false, description: "top" },
      ),
    );
    expect(out).toEqual({
      type: "object",
      description: "top",
      required: ["a"],
      properties: { a: { type: "string", description: "an a", default: "x" }, b: { type: "integer" } },
    });
  });

  it("turns a Record (patternProperties) into additionalProperties, and a narrow key pattern into a CEL rule", () => {
    expect(toStructuralSchema(Type.Record(Type.String(), Type.Number()))).toEqual({
      type: "object",
      additionalProperties: { type: "number" },
    });
    const narrow = toStructuralSchema({ type: "object", patternProperties: { "^[a-z]+$": { type: "string" } } });
    expect(narrow.additionalProperties).toEqual({ type: "string" });
    expect(narrow["x-kubernetes-validations"]).toEqual([
      { rule: "self.all(k, k.matches('^[a-z]+$'))", message: "every key must match ^[a-z]+$" },
    ]);
  });

  it("turns literals and unions of literals into type + enum, keeping the default", () => {
    expect(toStructuralSchema(Type.Union([Type.Literal("a"), Type.Literal("b")], { default: "a" }))).toEqual({
      type: "string",
      enum: ["a", "b"],
      default: "a",
    });
    expect(toStructuralSchema(Type.Literal(3))).toEqual({ type: "number", enum: [3] });
    expect(toStructuralSchema({ const: true })).toEqual({ type: "boolean", enum: [true] });
    expect(toStructuralSchema(Type.Union([Type.Literal(1), Type.Literal(1.5)]))).toEqual({
      type: "number",
      enum: [1, 1.5],
    });
  });

  it("inlines $ref from $defs and drops $id/$schema", () => {
    const out = toStructuralSchema({
      $schema: "https://json-schema.org/draft/2020-12/schema",
      $id: "x",
      $defs: { port: { type: "integer", minimum: 1 } },
      type: "object",
      properties: { p: { $ref: "#/$defs/port", description: "the port" } },
    });
    expect(out).toEqual({
      type: "object",
      properties: { p: { type: "integer", minimum: 1, description: "the port" } },
    });
  });

  it("converts numeric exclusive bounds to the boolean form and examples to example", () => {
    expect(toStructuralSchema({ type: "number", exclusiveMinimum: 0, examples: [1, 2] })).toEqual({
      type: "number",
      minimum: 0,
      exclusiveMinimum: true,
      example: 1,
    });
  });

  it("refuses, naming the node, what has no structural equivalent", () => {
    const cases: [unknown, RegExp][] = [
      [
        { type: "object", properties: { a: { anyOf: [{ type: "string" }, { type: "integer" }] } } },
        /\/properties\/a\/anyOf\/0 to a Kubernetes structural schema: anyOf is only converted when every member is a literal/,
      ],
      [
        { type: "object", properties: { a: { description: "no type" } } },
        /at \/properties\/a to a Kubernetes structural schema: every node needs a type/,
      ],
      [{ type: "array" }, /an array needs a single items schema/],
      [{ type: "array", items: [{ type: "string" }] }, /tuples are not structural/],
      [{ type: ["string", "null"] }, /null and multi-type nodes are not structural/],
      [{ type: "object", properties: { a: { $ref: "#/$defs/missing" } } }, /unresolvable \$ref/],
      [
        { $defs: { n: { type: "object", properties: { next: { $ref: "#/$defs/n" } } } }, $ref: "#/$defs/n" },
        /recursive \$ref/,
      ],
      [{ type: "string", default: 3 }, /the default 3 does not match the node/],
      [{ anyOf: [{ const: "a" }, { const: 1 }] }, /mixes literal types string and integer/],
      [{ allOf: [{ type: "string" }] }, /the keyword "allOf" has no structural-schema conversion/],
      [{ type: "string", properties: {} }, /properties are only allowed on objects/],
    ];
    for (const [schema, message] of cases) {
      expect(() => toStructuralSchema(schema)).toThrow(StructuralSchemaError);
      expect(() => toStructuralSchema(schema)).toThrow(message);
    }
  });
});
