/*
 * Wording for validation issues, matching what @tessera/contract says for envelopes so a CLI user reads
 * one style whether the API or the contract refused the input.
 */

type SchemaLike = Record<string, unknown>;

function range(schema: SchemaLike): string {
  const min = typeof schema["minimum"] === "number" ? schema["minimum"] : undefined;
  const max = typeof schema["maximum"] === "number" ? schema["maximum"] : undefined;
  if (min !== undefined && max !== undefined) return ` from ${min} to ${max}`;
  if (min !== undefined) return ` ≥ ${min}`;
  if (max !== undefined) return ` ≤ ${max}`;
  return "";
}

/** What a schema accepts, in words: "integer from 1 to 500", "one of pending, queued, …". */
export function describeSchema(schema: SchemaLike | undefined): string {
  if (schema === undefined) return "a value";
  const description = typeof schema["description"] === "string" ? schema["description"] : undefined;
  if (Array.isArray(schema["enum"])) return `one of ${schema["enum"].map(String).join(", ")}`;
  switch (schema["type"]) {
    case "integer":
    case "number":
      return `${schema["type"]}${range(schema)}`;
    case "boolean":
      return "a boolean";
    case "array":
      return "an array";
    case "string":
      if (schema["format"] === "date-time") return "an RFC 3339 date-time with a time zone, e.g. 2026-11-23T14:30:00Z";
      if (schema["format"] === "byte") return description ?? "standard padded base64 (RFC 4648)";
      // A regex says little to a caller; the schema's description says what it means.
      if (typeof schema["pattern"] === "string") return description ?? `a string matching ${schema["pattern"]}`;
      if (typeof schema["maxLength"] === "number")
        return `a string of ${typeof schema["minLength"] === "number" ? schema["minLength"] : 0} to ${schema["maxLength"]} characters`;
      return typeof schema["minLength"] === "number" && schema["minLength"] > 0 ? "a non-empty string" : "a string";
    case "object": {
      const properties = Object.keys((schema["properties"] as SchemaLike | undefined) ?? {});
      if (schema["minProperties"] === 1 && schema["maxProperties"] === 1)
        return `an object with exactly one of ${properties.join(", ")}`;
      return "an object";
    }
    default:
      return "any JSON value";
  }
}
