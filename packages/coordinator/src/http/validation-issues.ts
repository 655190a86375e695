import type { ValidationIssue } from "@tessera/contract";
import type { FastifySchemaValidationError } from "fastify";
import { describeValue, pointerToPath } from "@tessera/contract";
import { clipText } from "../clip-text.js";
import { describeSchema } from "./describe.js";

/** An Ajv error from a validator built with `verbose: true` (see validator-compiler.ts). */
interface VerboseAjvError extends FastifySchemaValidationError {
  data?: unknown;
  parentSchema?: Record<string, unknown>;
}

/** Field names are the client's own text: an unknown one is quoted only this far. */
const MAX_FIELD_NAME = 64;

/** Fastify's name for the part of the request that failed → the prefix of the issue's path. */
const PART_NAMES: Readonly<Record<string, string>> = {
  body: "body",
  querystring: "query",
  params: "params",
  headers: "headers",
};

function issueOf(error: VerboseAjvError, part: string): ValidationIssue {
  const at = pointerToPath(error.instancePath, part);
  const properties = (error.parentSchema?.["properties"] as Record<string, Record<string, unknown>> | undefined) ?? {};
  switch (error.keyword) {
    case "required": {
      const field = String(error.params["missingProperty"]);
      return {
        path: `${at}.${field}`,
        expected: `required property: ${describeSchema(properties[field])}`,
        received: describeValue(undefined),
      };
    }
    case "additionalProperties": {
      const field = String(error.params["additionalProperty"]);
      const shown = clipText(field, MAX_FIELD_NAME);
      const known = Object.keys(properties);
      return {
        path: `${at}.${shown}`,
        expected: `no additional properties (unknown field ${JSON.stringify(shown)}; known fields: ${known.join(", ")})`,
        received: describeValue((error.data as Record<string, unknown> | undefined)?.[field]),
      };
    }
    default:
      return { path: at, expected: describeSchema(error.parentSchema), received: describeValue(error.data) };
  }
}

/** Turns Fastify's schema-validation failure into issues that name the field, one per field. */
export function issuesFromValidation(
  errors: readonly FastifySchemaValidationError[],
  context: string,
): ValidationIssue[] {
  const part = PART_NAMES[context] ?? context;
  const byPath = new Map<string, ValidationIssue>();
  for (const error of errors) {
    const issue = issueOf(error, part);
    // Ajv may report several rules for one field (type and then format); the first says enough.
    if (!byPath.has(issue.path)) byPath.set(issue.path, issue);
  }
  return [...byPath.values()];
}
