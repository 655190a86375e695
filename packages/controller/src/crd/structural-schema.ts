/**
 * JSON Schema (as TypeBox emits it) → a Kubernetes *structural* schema, the only kind an
 * apiextensions.k8s.io/v1 CustomResourceDefinition accepts:
 * https://kubernetes.io/docs/tasks/extend-kubernetes/custom-resources/custom-resource-definitions/#specifying-a-structural-schema
 *
 * Pure and deterministic: the same input always gives the same output, and the input is not modified.
 * What it does, node by node:
 * - `$ref` is inlined from the root's `$defs`/`definitions` (recursive references cannot be, and throw);
 *   `$id`, `$schema`, `$comment` and `$defs`/`definitions` are dropped.
 * - `additionalProperties: false` is removed: the API server prunes unknown fields instead of rejecting them.
 *   `additionalProperties: true` becomes `x-kubernetes-preserve-unknown-fields: true`.
 * - `patternProperties` (TypeBox's `Type.Record`) becomes `additionalProperties: <value schema>`; a key pattern
 *   narrower than "anything" becomes a CEL rule on the map's keys.
 * - `const` and `anyOf` of literals (TypeBox's `Type.Literal`, `Type.Union` of literals) become `type` + `enum`.
 * - Numeric `exclusiveMinimum`/`exclusiveMaximum` (JSON Schema 2019+) become `minimum`/`maximum` with the
 *   boolean form Kubernetes uses; `examples` becomes `example`.
 * - Every node gets a `type` (or the conversion throws), `items` is required on arrays, `default`s are kept
 *   when they match their node, descriptions are kept.
 * TypeBox's own annotations are symbol-keyed (`[Kind]`, `[OptionalKind]`) and never enumerated, so a raw
 * TypeBox schema converts like its JSON form. Any keyword not listed here throws: a new kind of schema in the
 * contract must be converted on purpose, not dropped silently.
 */

export interface CelValidationRule {
  rule: string;
  message: string;
  /** A JSON path from the node the rule is on to the field the error is reported at (Kubernetes ≥ 1.28). */
  fieldPath?: string;
  reason?: "FieldValueInvalid" | "FieldValueForbidden" | "FieldValueRequired" | "FieldValueDuplicate";
}

export type StructuralType = "object" | "array" | "string" | "integer" | "number" | "boolean";

export interface StructuralSchema {
  type?: StructuralType;
  description?: string;
  title?: string;
  format?: string;
  default?: unknown;
  example?: unknown;
  enum?: unknown[];
  nullable?: boolean;
  // strings
  pattern?: string;
  minLength?: number;
  maxLength?: number;
  // numbers
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: boolean;
  exclusiveMaximum?: boolean;
  multipleOf?: number;
  // arrays
  items?: StructuralSchema;
  minItems?: number;
  maxItems?: number;
  uniqueItems?: boolean;
  // objects
  properties?: Record<string, StructuralSchema>;
  required?: string[];
  additionalProperties?: StructuralSchema;
  minProperties?: number;
  maxProperties?: number;
  // Kubernetes extensions
  "x-kubernetes-preserve-unknown-fields"?: boolean;
  "x-kubernetes-int-or-string"?: boolean;
  "x-kubernetes-list-type"?: "atomic" | "set" | "map";
  "x-kubernetes-list-map-keys"?: string[];
  "x-kubernetes-map-type"?: "atomic" | "granular";
  "x-kubernetes-validations"?: CelValidationRule[];
}

/** Raised for a schema that has no structural equivalent; `path` is a JSON pointer into the input. */
export class StructuralSchemaError extends Error {
  constructor(
    readonly path: string,
    detail: string,
  ) {
    super(`cannot convert the schema at ${path === "" ? "(root)" : path} to a Kubernetes structural schema: ${detail}`);
    this.name = "StructuralSchemaError";
  }
}

type Json = Record<string, unknown>;

const isObject = (value: unknown): value is Json =>
  typeof value === "object" && value !== null && !Array.isArray(value);

/** Keys copied unchanged (after a type check) when present. */
const COPIED = [
  "description",
  "title",
  "format",
  "pattern",
  "minLength",
  "maxLength",
  "minimum",
  "maximum",
  "multipleOf",
  "minItems",
  "maxItems",
  "uniqueItems",
  "minProperties",
  "maxProperties",
  "required",
  "nullable",
] as const;
/** Keys that carry no meaning for Kubernetes and are dropped. */
const DROPPED = new Set(["$id", "$schema", "$comment", "$defs", "definitions"]);
/** Keys handled explicitly below. */
const HANDLED = new Set([
  ...COPIED,
  "type",
  "$ref",
  "const",
  "enum",
  "anyOf",
  "default",
  "examples",
  "example",
  "exclusiveMinimum",
  "exclusiveMaximum",
  "items",
  "properties",
  "additionalProperties",
  "patternProperties",
]);
const PASSED_EXTENSIONS = new Set([
  "x-kubernetes-preserve-unknown-fields",
  "x-kubernetes-int-or-string",
  "x-kubernetes-list-type",
  "x-kubernetes-list-map-keys",
  "x-kubernetes-map-type",
  "x-kubernetes-validations",
]);

/** Key patterns that accept every key (TypeBox's `Type.Record(Type.String(), …)` emits `^(.*)$`). */
const MATCH_ALL_KEY_PATTERNS = new Set(["^(.*)$", "^.*$", ".*", "(.*)", ""]);

const STRUCTURAL_TYPES = new Set<string>(["object", "array", "string", "integer", "number", "boolean"]);

function typeOfLiteral(value: unknown, path: string): StructuralType {
  if (typeof value === "string") return "string";
  if (typeof value === "boolean") return "boolean";
  if (typeof value === "number") return Number.isInteger(value) ? "integer" : "number";
  throw new StructuralSchemaError(path, `a literal must be a string, number or boolean, got ${JSON.stringify(value)}`);
}

/** Whether `value` has the JSON type `type` (integers are numbers too). */
function hasType(value: unknown, type: StructuralType): boolean {
  switch (type) {
    case "object":
      return isObject(value);
    case "array":
      return Array.isArray(value);
    case "integer":
      return typeof value === "number" && Number.isInteger(value);
    case "number":
      return typeof value === "number";
    default:
      return typeof value === type;
  }
}

interface Context {
  root: Json;
  /** `$ref`s being inlined, to refuse recursion (a structural schema is a finite tree). */
  resolving: readonly string[];
}

function resolveRef(ref: string, ctx: Context, path: string): Json {
  const match = /^#\/(\$defs|definitions)\/(.+)$/.exec(ref);
  const defs = match === null ? undefined : ctx.root[match[1] as string];
  const target =
    match === null || !isObject(defs)
      ? undefined
      : defs[decodeURIComponent((match[2] as string).replace(/~1/g, "/").replace(/~0/g, "~"))];
  if (!isObject(target))
    throw new StructuralSchemaError(
      path,
      `unresolvable $ref ${JSON.stringify(ref)} (only #/$defs/… and #/definitions/… of the root are inlined)`,
    );
  if (ctx.resolving.includes(ref))
    throw new StructuralSchemaError(
      path,
      `recursive $ref ${JSON.stringify(ref)}: a structural schema must be a finite tree`,
    );
  return target;
}

/** `anyOf` whose members are all literals of one JSON type → that type and an enum. */
function literalUnion(members: unknown[], path: string): { type: StructuralType; values: unknown[] } {
  const values: unknown[] = [];
  let type: StructuralType | undefined;
  members.forEach((member, i) => {
    const at = `${path}/anyOf/${i}`;
    const literals = isObject(member)
      ? member["const"] !== undefined
        ? [member["const"]]
        : Array.isArray(member["enum"])
          ? member["enum"]
          : undefined
      : undefined;
    if (literals === undefined)
      throw new StructuralSchemaError(
        at,
        "anyOf is only converted when every member is a literal (const or enum); structural schemas cannot express other unions",
      );
    for (const literal of literals) {
      const t = typeOfLiteral(literal, at);
      const merged =
        type === undefined
          ? t
          : type === t
            ? t
            : (type === "integer" && t === "number") || (type === "number" && t === "integer")
              ? "number"
              : undefined;
      if (merged === undefined)
        throw new StructuralSchemaError(
          at,
          `anyOf mixes literal types ${type} and ${t}; a structural schema node has exactly one type`,
        );
      type = merged;
      if (!values.some((v) => v === literal)) values.push(literal);
    }
  });
  if (type === undefined) throw new StructuralSchemaError(path, "an empty anyOf matches nothing");
  return { type, values };
}

function escapeCelString(text: string): string {
  return text.replace(/\\/g, "\\\\").replace(/'/g, "\\'");
}

function convertNode(input: unknown, ctx: Context, path: string): StructuralSchema {
  if (!isObject(input)) throw new StructuralSchemaError(path, `expected a schema object, got ${JSON.stringify(input)}`);
  let node: Json = input;
  let inner = ctx;
  if (typeof node["$ref"] === "string") {
    const ref = node["$ref"];
    const { $ref: _ref, ...siblings } = node;
    node = { ...resolveRef(ref, ctx, path), ...siblings };
    inner = { ...ctx, resolving: [...ctx.resolving, ref] };
  }
  for (const key of Object.keys(node)) {
    if (!HANDLED.has(key) && !DROPPED.has(key) && !PASSED_EXTENSIONS.has(key)) {
      throw new StructuralSchemaError(
        path,
        `the keyword ${JSON.stringify(key)} has no structural-schema conversion (allOf/oneOf/not and tuples are not supported)`,
      );
    }
  }

  const out: StructuralSchema = {};
  // Literals and unions of literals first: they decide the type.
  let enumValues: unknown[] | undefined;
  let literalType: StructuralType | undefined;
  if (node["const"] !== undefined) {
    enumValues = [node["const"]];
    literalType = typeOfLiteral(node["const"], path);
  } else if (Array.isArray(node["anyOf"])) {
    const union = literalUnion(node["anyOf"], path);
    enumValues = union.values;
    literalType = union.type;
  } else if (Array.isArray(node["enum"])) {
    enumValues = [...(node["enum"] as unknown[])];
    literalType = enumValues.length > 0 ? typeOfLiteral(enumValues[0], path) : undefined;
  }

  let type: StructuralType | undefined;
  const declared = node["type"];
  if (declared !== undefined) {
    if (typeof declared !== "string" || !STRUCTURAL_TYPES.has(declared)) {
      throw new StructuralSchemaError(
        path,
        `type must be one of ${[...STRUCTURAL_TYPES].join(", ")}, got ${JSON.stringify(declared)} (null and multi-type nodes are not structural; use nullable)`,
      );
    }
    type = declared as StructuralType;
    if (literalType !== undefined && literalType !== type && !(type === "number" && literalType === "integer")) {
      throw new StructuralSchemaError(path, `literal values of type ${literalType} on a node of type ${type}`);
    }
  } else if (literalType !== undefined) {
    type = literalType;
  } else if (
    isObject(node["properties"]) ||
    isObject(node["patternProperties"]) ||
    node["additionalProperties"] !== undefined
  ) {
    type = "object";
  } else if (node["items"] !== undefined) {
    type = "array";
  }
  const preserve = node["x-kubernetes-preserve-unknown-fields"] === true || node["x-kubernetes-int-or-string"] === true;
  if (type !== undefined) out.type = type;
  else if (!preserve)
    throw new StructuralSchemaError(
      path,
      "every node needs a type (or x-kubernetes-int-or-string / x-kubernetes-preserve-unknown-fields)",
    );

  for (const key of COPIED) {
    if (node[key] !== undefined)
      (out as Record<string, unknown>)[key] = key === "required" ? [...(node[key] as string[])] : node[key];
  }
  if (enumValues !== undefined) out.enum = enumValues;

  // Numeric exclusive bounds: JSON Schema 2019+ uses numbers, Kubernetes (draft 4) uses booleans.
  for (const [exclusive, bound] of [
    ["exclusiveMinimum", "minimum"],
    ["exclusiveMaximum", "maximum"],
  ] as const) {
    const value = node[exclusive];
    if (typeof value === "number") {
      out[bound] = value;
      out[exclusive] = true;
    } else if (typeof value === "boolean") {
      out[exclusive] = value;
    }
  }
  if (Array.isArray(node["examples"]) && node["examples"].length > 0) out.example = node["examples"][0];
  if (node["example"] !== undefined) out.example = node["example"];

  if (type === "object") {
    if (isObject(node["properties"])) {
      out.properties = {};
      for (const [name, child] of Object.entries(node["properties"]))
        out.properties[name] = convertNode(child, inner, `${path}/properties/${name}`);
    }
    const additional = node["additionalProperties"];
    const patterns = isObject(node["patternProperties"]) ? Object.entries(node["patternProperties"]) : [];
    if (patterns.length > 0) {
      if (out.properties !== undefined)
        throw new StructuralSchemaError(
          path,
          "properties and patternProperties together cannot be expressed (additionalProperties excludes properties)",
        );
      if (patterns.length > 1)
        throw new StructuralSchemaError(
          path,
          "more than one patternProperties entry cannot be expressed as one additionalProperties schema",
        );
      const [pattern, valueSchema] = patterns[0] as [string, unknown];
      out.additionalProperties = convertNode(valueSchema, inner, `${path}/patternProperties/${pattern}`);
      if (!MATCH_ALL_KEY_PATTERNS.has(pattern)) {
        out["x-kubernetes-validations"] = [
          { rule: `self.all(k, k.matches('${escapeCelString(pattern)}'))`, message: `every key must match ${pattern}` },
        ];
      }
    } else if (isObject(additional)) {
      if (out.properties !== undefined)
        throw new StructuralSchemaError(
          path,
          "properties and an additionalProperties schema together are not structural",
        );
      out.additionalProperties = convertNode(additional, inner, `${path}/additionalProperties`);
    } else if (additional === true) {
      out["x-kubernetes-preserve-unknown-fields"] = true;
    }
    // additionalProperties: false is dropped: structural schemas prune unknown fields.
  } else if (
    node["properties"] !== undefined ||
    node["patternProperties"] !== undefined ||
    node["additionalProperties"] !== undefined
  ) {
    throw new StructuralSchemaError(path, `properties are only allowed on objects, not on a ${type ?? "untyped"} node`);
  }

  if (type === "array") {
    const items = node["items"];
    if (!isObject(items))
      throw new StructuralSchemaError(path, "an array needs a single items schema (tuples are not structural)");
    out.items = convertNode(items, inner, `${path}/items`);
  } else if (node["items"] !== undefined) {
    throw new StructuralSchemaError(path, `items is only allowed on arrays, not on a ${type ?? "untyped"} node`);
  }

  for (const key of PASSED_EXTENSIONS) {
    if (node[key] === undefined) continue;
    const value = node[key];
    if (key === "x-kubernetes-validations") out[key] = [...(out[key] ?? []), ...(value as CelValidationRule[])];
    else (out as Record<string, unknown>)[key] = value;
  }

  if (node["default"] !== undefined) {
    const value = node["default"];
    // Kept where valid: a default that does not match its own node would be rejected by the API server.
    const ok =
      (type === undefined || hasType(value, type)) && (out.enum === undefined || out.enum.some((v) => v === value));
    if (!ok)
      throw new StructuralSchemaError(
        path,
        `the default ${JSON.stringify(value)} does not match the node (type ${type ?? "any"}${out.enum !== undefined ? `, enum ${JSON.stringify(out.enum)}` : ""})`,
      );
    out.default = structuredClone(value);
  }
  return out;
}

/**
 * Converts a JSON Schema into a Kubernetes structural schema (see the module comment for the rules).
 * Throws `StructuralSchemaError`, naming the node, for anything that has no structural equivalent.
 */
export function toStructuralSchema(schema: unknown): StructuralSchema {
  if (!isObject(schema)) throw new StructuralSchemaError("", "expected a schema object");
  return convertNode(schema, { root: schema, resolving: [] }, "");
}
