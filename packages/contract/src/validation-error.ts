import type { TSchema } from "@sinclair/typebox";
import { TypeCompiler } from "@sinclair/typebox/compiler";
import { ValueErrorType, type ValueError } from "@sinclair/typebox/errors";

/** One thing wrong with an input: where it is, what was expected, what was found. */
export interface ValidationIssue {
  /** Dotted path to the field, e.g. `limits.max_bytes` or `allowlist.ports[0].port`; `(root)` for the whole value. */
  path: string;
  expected: string;
  received: string;
}

/** Thrown (or returned) when an envelope or spec does not match the contract. */
export class ContractValidationError extends Error {
  override readonly name = "ContractValidationError";
  constructor(
    /** What was being validated, e.g. `Job` or `Component spec`. */
    readonly subject: string,
    readonly issues: readonly ValidationIssue[],
  ) {
    super(`invalid ${subject}: ${issues.map(formatIssue).join("; ")}`);
  }
}

export function formatIssue(issue: ValidationIssue): string {
  return `${issue.path}: expected ${issue.expected}, got ${issue.received}`;
}

export type Validated<T> = { ok: true; value: T } | { ok: false; error: ContractValidationError };

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

/** `/limits/max_bytes` → `limits.max_bytes`, `/ports/0/port` → `ports[0].port`. */
export function pointerToPath(pointer: string, prefix = ""): string {
  const parts = pointer
    .split("/")
    .slice(1)
    .map((p) => p.replace(/~1/g, "/").replace(/~0/g, "~"));
  let out = prefix;
  for (const part of parts) {
    if (/^\d+$/.test(part)) out += `[${part}]`;
    else out += out === "" ? part : `.${part}`;
  }
  return out === "" ? "(root)" : out;
}

function expectedFrom(error: ValueError): string {
  const s = error.schema as Record<string, unknown>;
  const desc = typeof s["description"] === "string" ? ` (${s["description"] as string})` : "";
  // TypeBox messages read "Expected string length greater or equal to 1"; drop the verb, keep the content.
  const msg = error.message.replace(/^Expected /, "");
  if (s["enum"] !== undefined && Array.isArray(s["enum"]))
    return `one of ${(s["enum"] as unknown[]).map((v) => JSON.stringify(v)).join(", ")}`;
  if (s["const"] !== undefined) return JSON.stringify(s["const"]);
  if (error.type === ValueErrorType.StringPattern) return `a string matching ${s["pattern"] as string}${desc}`;
  return `${msg.charAt(0).toLowerCase()}${msg.slice(1)}${desc}`;
}

/** A map (record) refuses a key by its pattern; an object refuses a field it does not declare. */
function unknownFieldExpectation(schema: Record<string, unknown>): string {
  const patterns = Object.keys((schema["patternProperties"] as object | undefined) ?? {});
  if (patterns.length > 0) {
    const lengths = patterns
      .map((p) => /^\^\.\{(\d+),(\d+)\}\$$/.exec(p))
      .map((m) => (m === null ? undefined : `${m[1]} to ${m[2]} characters`));
    return `a key of ${lengths.every((l) => l !== undefined) ? lengths.join(" or ") : `the form ${patterns.join(" or ")}`}`;
  }
  return `no such field (known fields: ${Object.keys((schema["properties"] as object | undefined) ?? {}).join(", ")})`;
}

/**
 * Compiles a schema once and turns its failures into issues that name the field. Unknown properties
 * are reported as such rather than as a generic "additional properties" error.
 */
export function compileValidator<T>(schema: TSchema, subject: string): (value: unknown) => Validated<T> {
  const check = TypeCompiler.Compile(schema);
  return (value) => {
    if (check.Check(value)) return { ok: true, value: value as T };
    const issues: ValidationIssue[] = [];
    const seen = new Set<string>();
    for (const err of check.Errors(value)) {
      const issue: ValidationIssue =
        err.type === ValueErrorType.ObjectAdditionalProperties
          ? {
              path: pointerToPath(err.path),
              expected: unknownFieldExpectation(err.schema as Record<string, unknown>),
              received: describeValue(err.value),
            }
          : { path: pointerToPath(err.path), expected: expectedFrom(err), received: describeValue(err.value) };
      // TypeBox reports a missing field as both "required" and "expected <type>"; one line per field is enough.
      if (seen.has(issue.path)) continue;
      seen.add(issue.path);
      issues.push(issue);
    }
    return { ok: false, error: new ContractValidationError(subject, issues) };
  };
}
