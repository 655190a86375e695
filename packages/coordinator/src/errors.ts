import type { ValidationIssue } from "@tessera/contract";

export type CoordinatorErrorCode = "invalid_request" | "not_found" | "conflict" | "unavailable";

/**
 * An error the caller can act on, with a code the admin API maps to a status (400, 404, 409, 503).
 * Invalid input carries `issues` naming each field, like the contract's validation errors.
 */
export class CoordinatorError extends Error {
  override readonly name = "CoordinatorError";
  constructor(
    readonly code: CoordinatorErrorCode,
    message: string,
    readonly issues: readonly ValidationIssue[] = [],
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

export function invalidRequest(path: string, expected: string, received: string): CoordinatorError {
  return new CoordinatorError("invalid_request", `${path}: expected ${expected}, got ${received}`, [
    { path, expected, received },
  ]);
}

export function unknownComponent(name: string, known: readonly string[]): CoordinatorError {
  const list = known.length === 0 ? "none are registered" : `known: ${known.join(", ")}`;
  return new CoordinatorError("not_found", `unknown component "${name}" (${list})`, [
    { path: "component", expected: `one of the registered components (${list})`, received: JSON.stringify(name) },
  ]);
}
