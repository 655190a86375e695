import { Type, type Static } from "@sinclair/typebox";
import { ComponentName, ContentRef, JobId, Timestamp } from "./common-schemas.js";
import { envelopePreamble, parseEnvelopeBytes, utf8Encoder } from "./envelope-codec.js";
import { SCHEMA_VERSION } from "./schema-version.js";
import { ContractValidationError, compileValidator, type Validated } from "./validation-error.js";

export const SourceLocator = Type.Object(
  {
    source_url: Type.String({ minLength: 1, maxLength: 4096 }),
    source_secret_ref: Type.Optional(Type.String({ minLength: 1, maxLength: 253 })),
    fetch_limits: Type.Optional(
      Type.Object(
        {
          max_bytes: Type.Optional(Type.Integer({ minimum: 1 })),
          timeout_ms: Type.Optional(Type.Integer({ minimum: 1 })),
          max_redirects: Type.Optional(Type.Integer({ minimum: 0, maximum: 20 })),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);

/**
 * Exactly one of the three is set (checked in `validateJob`, so the error can say which were given).
 * `inline` carries small JSON inputs in the envelope itself; large ones go by `content_ref`.
 */
export const JobInput = Type.Object(
  {
    inline: Type.Optional(Type.Unknown()),
    content_ref: Type.Optional(ContentRef),
    source_locator: Type.Optional(SourceLocator),
  },
  { additionalProperties: false },
);
export const INPUT_MODES = ["inline", "content_ref", "source_locator"] as const;

export const JobLimits = Type.Object(
  {
    max_bytes: Type.Integer({ minimum: 1, description: "largest input the worker will read, in bytes" }),
    wall_clock: Type.Integer({ minimum: 1, description: "milliseconds the handler may run" }),
  },
  { additionalProperties: false },
);

export const MAX_METADATA_ENTRIES = 32;
export const JobSchema = Type.Object(
  {
    schema_version: Type.Literal(SCHEMA_VERSION),
    job_id: JobId,
    component: ComponentName,
    content_type: Type.String({ minLength: 1, maxLength: 255 }),
    limits: JobLimits,
    deadline: Type.Optional(Timestamp),
    input: JobInput,
    metadata: Type.Optional(
      // Type.Record ignores minLength/maxLength on its key; a key pattern with additionalProperties: false
      // is what enforces the key length.
      Type.Record(Type.String({ pattern: "^.{1,64}$" }), Type.String({ maxLength: 512 }), {
        maxProperties: MAX_METADATA_ENTRIES,
        additionalProperties: false,
      }),
    ),
    traceparent: Type.Optional(
      Type.String({ pattern: "^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$", description: "a W3C traceparent" }),
    ),
    /** Shared config stamped at submit time, so the worker runs with exactly what the job was submitted under. */
    shared_config: Type.Optional(
      Type.Record(Type.String({ pattern: "^.{1,128}$" }), Type.Unknown(), { additionalProperties: false }),
    ),
    submitted_at: Type.Optional(Timestamp),
  },
  { additionalProperties: false },
);
export type Job = Static<typeof JobSchema>;
export type JobInputValue = Static<typeof JobInput>;
export type ContentRefValue = Static<typeof ContentRef>;
export type SourceLocatorValue = Static<typeof SourceLocator>;

const checkShape = compileValidator<Job>(JobSchema, "Job");

/** Why a job cannot be accepted, separated so a worker can pick the reason code. */
export type JobProblem = "unsupported_schema_version" | "invalid_envelope";

export function validateJob(value: unknown): Validated<Job> & { problem?: JobProblem } {
  const early = envelopePreamble(value, "Job");
  if (early !== undefined) return { ok: false, ...early };
  const shaped = checkShape(value);
  if (!shaped.ok) return { ...shaped, problem: "invalid_envelope" };
  const given = INPUT_MODES.filter((m) => shaped.value.input[m] !== undefined);
  if (given.length !== 1) {
    return {
      ok: false,
      problem: "invalid_envelope",
      error: new ContractValidationError("Job", [
        {
          path: "input",
          expected: `exactly one of ${INPUT_MODES.join(", ")}`,
          received: given.length === 0 ? "none of them" : given.join(" and "),
        },
      ]),
    };
  }
  return shaped;
}

/** Parses and validates the bytes of a Job envelope. Never throws. */
export function decodeJob(bytes: Uint8Array): Validated<Job> & { problem?: JobProblem } {
  const parsed = parseEnvelopeBytes(bytes, "Job");
  return parsed.ok ? validateJob(parsed.value) : { ...parsed, problem: "invalid_envelope" };
}

/** Validates then encodes; a producer never puts an invalid Job on the bus. */
export function encodeJob(job: Job): Uint8Array {
  const checked = validateJob(job);
  if (!checked.ok) throw checked.error;
  return utf8Encoder.encode(JSON.stringify(job));
}

/** Which input mode a valid job uses. */
export function inputModeOf(job: Job): (typeof INPUT_MODES)[number] {
  if (job.input.content_ref !== undefined) return "content_ref";
  if (job.input.source_locator !== undefined) return "source_locator";
  return "inline";
}
