import { Type, type Static } from "@sinclair/typebox";
import { ComponentName, ContentRef, JobId, ReasonCodeString, Timestamp } from "./common-schemas.js";
import { sanitizeReasonDetail } from "./reason-code.js";
import { envelopePreamble, parseEnvelopeBytes, utf8Encoder } from "./envelope-codec.js";
import { SCHEMA_VERSION } from "./schema-version.js";
import { ContractValidationError, compileValidator, type Validated } from "./validation-error.js";

export const ResultStatus = { Completed: "completed", Failed: "failed" } as const;
export type ResultStatus = (typeof ResultStatus)[keyof typeof ResultStatus];

/** Largest `output.data` a worker puts inline; anything larger travels by `output.result_ref`. */
export const INLINE_OUTPUT_MAX_BYTES = 64 * 1024;

export const ResultSchema = Type.Object(
  {
    schema_version: Type.Literal(SCHEMA_VERSION),
    job_id: JobId,
    component: ComponentName,
    status: Type.Union([Type.Literal("completed"), Type.Literal("failed")]),
    reason_code: Type.Optional(ReasonCodeString),
    reason_detail: Type.Optional(Type.String()),
    output: Type.Optional(
      Type.Object(
        { result_ref: Type.Optional(ContentRef), data: Type.Optional(Type.Unknown()) },
        { additionalProperties: false },
      ),
    ),
    /** Delivery attempt that produced this Result (1 for the first delivery). */
    attempt: Type.Integer({ minimum: 1 }),
    instance_id: Type.Optional(Type.String({ minLength: 1, maxLength: 253 })),
    finished_at: Timestamp,
    duration_ms: Type.Optional(Type.Number({ minimum: 0 })),
  },
  { additionalProperties: false },
);
export type Result = Static<typeof ResultSchema>;

const checkShape = compileValidator<Result>(ResultSchema, "Result");

/**
 * Validates a Result. `reason_detail` is sanitized rather than checked: a detail is never a reason to
 * reject a Result. A failed Result must carry a reason code.
 */
export function validateResult(value: unknown): Validated<Result> {
  const early = envelopePreamble(value, "Result");
  if (early !== undefined) return { ok: false, error: early.error };
  const raw = value as Record<string, unknown>;
  const candidate =
    "reason_detail" in raw ? { ...raw, reason_detail: sanitizeReasonDetail(raw["reason_detail"]) } : raw;
  const shaped = checkShape(candidate);
  if (!shaped.ok) return shaped;
  if (shaped.value.status === "failed" && shaped.value.reason_code === undefined) {
    return {
      ok: false,
      error: new ContractValidationError("Result", [
        { path: "reason_code", expected: "a reason code when status is failed", received: "nothing (field missing)" },
      ]),
    };
  }
  return shaped;
}

export function decodeResult(bytes: Uint8Array): Validated<Result> {
  const parsed = parseEnvelopeBytes(bytes, "Result");
  return parsed.ok ? validateResult(parsed.value) : parsed;
}

export function encodeResult(result: Result): Uint8Array {
  const checked = validateResult(result);
  if (!checked.ok) throw checked.error;
  return utf8Encoder.encode(JSON.stringify(checked.value));
}
