import type { ValidationIssue } from "@tessera/contract";
import type { FastifyInstance } from "fastify";
import { invalidRequest } from "./api-error.js";

declare module "fastify" {
  interface FastifyContextConfig {
    /**
     * Top-level body fields whose strings may hold NUL characters: the coordinator decides for them (the job
     * input is refused inline, where the store keeps it as text, and accepted by reference, as bytes).
     */
    nulAllowedIn?: readonly string[];
  }
}

/** JSON nested deeper than this is refused: encoding or storing it would overflow the stack. */
export const MAX_JSON_DEPTH = 512;

type Segment = string | number;

// Node 20 has String.prototype.isWellFormed (linear, native); the ES2023 lib this repo compiles against does not declare it.
const isWellFormed = (text: string): boolean => (text as unknown as { isWellFormed(): boolean }).isWellFormed();

function pathOf(segments: readonly Segment[]): string {
  let out = "";
  for (const s of segments) out += typeof s === "number" ? `[${s}]` : out === "" ? s : `.${s}`;
  return out;
}

function textProblem(text: string, nulAllowed: boolean): Omit<ValidationIssue, "path"> | undefined {
  if (!isWellFormed(text))
    return { expected: "well-formed Unicode text", received: "a lone surrogate (half of a UTF-16 surrogate pair)" };
  if (!nulAllowed && text.includes("\u0000"))
    return { expected: "text without NUL (\\u0000) characters", received: "a NUL character" };
  return undefined;
}

/**
 * The first string (value or key) in `value` that the coordinator could not store or encode, or nesting too
 * deep to encode, as an issue naming where it is. Recursion is bounded by MAX_JSON_DEPTH; the path is
 * built only for the problem found, not for every value passed.
 */
function findProblem(
  value: unknown,
  segments: Segment[],
  nulAllowed: (segments: readonly Segment[]) => boolean,
): ValidationIssue | undefined {
  if (typeof value === "string") {
    const problem = textProblem(value, nulAllowed(segments));
    return problem === undefined ? undefined : { path: pathOf(segments), ...problem };
  }
  if (typeof value !== "object" || value === null) return undefined;
  // The part name (body, query, params) is the first segment, not a level of the client's JSON.
  if (segments.length > MAX_JSON_DEPTH)
    return {
      path: pathOf(segments),
      expected: `JSON nested at most ${MAX_JSON_DEPTH} levels deep`,
      received: "deeper nesting",
    };
  const entries: Iterable<[Segment, unknown]> = Array.isArray(value)
    ? value.entries()
    : Object.entries(value as Record<string, unknown>);
  for (const [key, child] of entries) {
    segments.push(key);
    const keyProblem = typeof key === "string" ? textProblem(key, nulAllowed(segments)) : undefined;
    const problem =
      keyProblem !== undefined
        ? { path: pathOf(segments), expected: `a field name in ${keyProblem.expected}`, received: keyProblem.received }
        : findProblem(child, segments, nulAllowed);
    segments.pop();
    if (problem !== undefined) return problem;
  }
  return undefined;
}

/**
 * Refuses, with a 400 naming the field, text that no route could store: a lone surrogate anywhere (Postgres
 * refuses it in JSON, and no well-formed text holds one), a NUL character outside the fields a route allows it
 * in (Postgres refuses it in text and JSON), and JSON nested deeper than MAX_JSON_DEPTH. Runs after the access
 * guard (a refusal is audited as such) and before schema validation.
 */
export function installRequestTextChecks(app: FastifyInstance): void {
  app.addHook("preValidation", async (request) => {
    const allowed = request.routeOptions.config.nulAllowedIn ?? [];
    const nulAllowed = (segments: readonly Segment[]): boolean =>
      segments[0] === "body" && typeof segments[1] === "string" && allowed.includes(segments[1]);
    for (const [part, value] of [
      ["params", request.params],
      ["query", request.query],
      ["body", request.body],
    ] as const) {
      const problem = findProblem(value, [part], nulAllowed);
      if (problem !== undefined) throw invalidRequest([problem]);
    }
  });
}
