/*
 * Wording for validation issues, matching what @tessera/contract says for envelopes so a CLI user reads
 * one style whether the API or the contract refused the input.
 */

/** What arrived, short enough for an error line. */
export function describeValue(value: unknown): string {
  if (value === undefined) return "nothing (field missing)";
  if (value === null) return "null";
  if (Array.isArray(value)) return `an array of ${value.length}`;
  switch (typeof value) {
    case "string": {
      const shown = value.length > 40 ? `${value.slice(0, 40)}…` : value;
      return `string ${JSON.stringify(shown)}`;
    }
    case "number":
    case "boolean":
      return `${typeof value} ${String(value)}`;
    case "object":
      return "an object";
    default:
      return typeof value;
  }
}

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
      // A regex says little to a caller; the schema's description says what it means.
      if (typeof schema["pattern"] === "string") return description ?? `a string matching ${schema["pattern"]}`;
      return typeof schema["minLength"] === "number" && schema["minLength"] > 0 ? "a non-empty string" : "a string";
    case "object": {
      const properties = Object.keys((schema["properties"] as SchemaLike | undefined) ?? {});
      if (schema["minProperties"] === 1 && schema["maxProperties"] === 1) return `an object with exactly one of ${properties.join(", ")}`;
      return "an object";
    }
    default:
      return "any JSON value";
  }
}

/** `/limits/maxBytes` under `body` → `body.limits.maxBytes`; `/tags/0` → `body.tags[0]`. */
export function pointerToPath(prefix: string, pointer: string): string {
  let out = prefix;
  for (const raw of pointer.split("/").slice(1)) {
    const part = raw.replace(/~1/g, "/").replace(/~0/g, "~");
    out += /^\d+$/.test(part) ? `[${part}]` : `.${part}`;
  }
  return out;
}
