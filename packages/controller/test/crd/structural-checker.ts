/**
 * An independent check of the Kubernetes structural-schema rules, written from the Kubernetes docs rather than
 * from the converter, so the converter's output is not judged by its own logic:
 * https://kubernetes.io/docs/tasks/extend-kubernetes/custom-resources/custom-resource-definitions/#specifying-a-structural-schema
 */
type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);

const TYPES = new Set(["object", "array", "string", "integer", "number", "boolean"]);

/** Every violation, as `path: what`; empty when the schema is structural. */
export function structuralViolations(schema: unknown, path = "(root)"): string[] {
  if (!isObject(schema)) return [`${path}: not a schema object`];
  const out: string[] = [];
  for (const key of ["$ref", "$id", "$schema", "$defs", "definitions", "const", "patternProperties", "examples"]) {
    if (key in schema) out.push(`${path}: has ${key}`);
  }
  for (const key of ["anyOf", "allOf", "oneOf", "not"]) {
    // Allowed by Kubernetes only as value validation without types/defaults; the generated CRD uses none.
    if (key in schema) out.push(`${path}: has ${key}`);
  }
  if (schema["additionalProperties"] === false) out.push(`${path}: additionalProperties: false`);
  const exempt =
    schema["x-kubernetes-int-or-string"] === true || schema["x-kubernetes-preserve-unknown-fields"] === true;
  const type = schema["type"];
  if (type === undefined) {
    if (!exempt) out.push(`${path}: no type`);
  } else if (typeof type !== "string" || !TYPES.has(type)) {
    out.push(`${path}: type ${JSON.stringify(type)} is not one of ${[...TYPES].join(", ")}`);
  }
  if (type === "array" && !isObject(schema["items"])) out.push(`${path}: an array without a single items schema`);
  if (type !== "array" && "items" in schema) out.push(`${path}: items on a ${String(type)}`);
  if (type !== "object" && ("properties" in schema || "additionalProperties" in schema))
    out.push(`${path}: properties on a ${String(type)}`);
  if ("properties" in schema && "additionalProperties" in schema)
    out.push(`${path}: properties and additionalProperties together`);
  if (typeof schema["exclusiveMinimum"] === "number" || typeof schema["exclusiveMaximum"] === "number")
    out.push(`${path}: numeric exclusive bound (Kubernetes wants a boolean)`);
  for (const req of Array.isArray(schema["required"]) ? schema["required"] : []) {
    if (!isObject(schema["properties"]) || !(String(req) in schema["properties"]))
      out.push(`${path}: required ${String(req)} is not a property`);
  }
  if (schema["x-kubernetes-list-type"] === "map") {
    const keys = schema["x-kubernetes-list-map-keys"];
    const items = schema["items"];
    const itemRequired = isObject(items) && Array.isArray(items["required"]) ? items["required"] : [];
    if (!Array.isArray(keys) || keys.length === 0) out.push(`${path}: list-type map without list-map-keys`);
    else
      for (const k of keys)
        if (!itemRequired.includes(k)) out.push(`${path}: list-map-key ${String(k)} is not required in items`);
  }
  if (isObject(schema["properties"])) {
    for (const [name, child] of Object.entries(schema["properties"]))
      out.push(...structuralViolations(child, `${path}.${name}`));
  }
  if (isObject(schema["additionalProperties"]))
    out.push(...structuralViolations(schema["additionalProperties"], `${path}[*]`));
  if (isObject(schema["items"])) out.push(...structuralViolations(schema["items"], `${path}[]`));
  return out;
}

/** Test-only strictness: `additionalProperties: false` on every object that lists its properties. */
export function withClosedObjects(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(withClosedObjects);
  if (!isObject(schema)) return schema;
  const out: Json = {};
  for (const [key, value] of Object.entries(schema)) {
    // Leave literal values (defaults, enums, examples) alone.
    out[key] = key === "default" || key === "enum" || key === "example" ? value : withClosedObjects(value);
  }
  if (schema["type"] === "object" && isObject(schema["properties"]) && schema["additionalProperties"] === undefined)
    out["additionalProperties"] = false;
  return out;
}
