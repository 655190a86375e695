import type { InboundRequest, NormalizeOutcome } from "../adapter.js";

/** The body as a JSON object, or the `invalid` outcome naming what is wrong. */
export function jsonObject(
  request: InboundRequest,
): { ok: true; value: Record<string, unknown> } | { ok: false; outcome: NormalizeOutcome } {
  let value: unknown;
  try {
    value = JSON.parse(request.body.toString("utf8"));
  } catch (err) {
    return { ok: false, outcome: { kind: "invalid", field: "(body)", detail: `not JSON: ${(err as Error).message}` } };
  }
  if (typeof value !== "object" || value === null || Array.isArray(value))
    return { ok: false, outcome: { kind: "invalid", field: "(body)", detail: "expected a JSON object" } };
  return { ok: true, value: value as Record<string, unknown> };
}

export type Obj = Record<string, unknown>;
export const obj = (v: unknown): Obj | undefined =>
  typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Obj) : undefined;
export const str = (v: unknown): string | undefined => (typeof v === "string" && v !== "" ? v : undefined);
/** A string or number id as a string (GitHub's numeric ids). */
export const id = (v: unknown): string | undefined =>
  typeof v === "number" && Number.isFinite(v) ? String(v) : str(v);

export function missing(field: string): NormalizeOutcome {
  return { kind: "invalid", field, detail: "required and missing or empty" };
}
