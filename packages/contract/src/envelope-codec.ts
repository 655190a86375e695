import { SUPPORTED_SCHEMA_VERSIONS } from "./schema-version.js";
import { ContractValidationError, describeValue, type Validated } from "./validation-error.js";

const decoder = new TextDecoder("utf-8", { fatal: true });
export const utf8Encoder = new TextEncoder();

/** Parses envelope bytes as UTF-8 JSON. Never throws. */
export function parseEnvelopeBytes(bytes: Uint8Array, subject: string): Validated<unknown> {
  try {
    return { ok: true, value: JSON.parse(decoder.decode(bytes)) as unknown };
  } catch (err) {
    return {
      ok: false,
      error: new ContractValidationError(subject, [
        {
          path: "(root)",
          expected: "a UTF-8 JSON document",
          received: `bytes that do not parse (${(err as Error).message})`,
        },
      ]),
    };
  }
}

/**
 * The checks every envelope starts with: a JSON object, with a schema_version this build reads.
 * Returns the failure, or undefined when the envelope may go on to its schema.
 */
export function envelopePreamble(
  value: unknown,
  subject: string,
  /** The versions this build reads: the job contract's by default, the gateway contract passes its own. */
  supported: readonly number[] = SUPPORTED_SCHEMA_VERSIONS,
): { problem: "invalid_envelope" | "unsupported_schema_version"; error: ContractValidationError } | undefined {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return {
      problem: "invalid_envelope",
      error: new ContractValidationError(subject, [
        { path: "(root)", expected: "a JSON object", received: describeValue(value) },
      ]),
    };
  }
  const version = (value as { schema_version?: unknown }).schema_version;
  if (typeof version !== "number" || !supported.includes(version)) {
    return {
      problem: "unsupported_schema_version",
      error: new ContractValidationError(subject, [
        {
          path: "schema_version",
          expected: `a supported schema version (${supported.join(", ")})`,
          received: describeValue(version),
        },
      ]),
    };
  }
  return undefined;
}
