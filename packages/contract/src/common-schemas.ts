import { Type } from "@sinclair/typebox";

/** Job ids are the idempotency key end to end and travel as a subject token, hence the narrow charset. */
export const JOB_ID_PATTERN = "^[A-Za-z0-9_:-]{1,128}$";
export const JobId = Type.String({ pattern: JOB_ID_PATTERN, description: "1-128 characters of [A-Za-z0-9_:-]" });

export const ComponentName = Type.String({ minLength: 1, maxLength: 253 });

/** RFC 3339 timestamp with a time zone, e.g. 2026-11-23T14:30:00.000Z. */
export const Timestamp = Type.String({
  pattern: "^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}(\\.\\d+)?(Z|[+-]\\d{2}:\\d{2})$",
  description: "an RFC 3339 timestamp such as 2026-11-23T14:30:00Z",
});

/** A payload stored in the payload store; only the job whose id prefixes `object_ref` may read it. */
export const ContentRef = Type.Object(
  {
    object_ref: Type.String({ minLength: 1, maxLength: 512 }),
    byte_size: Type.Integer({ minimum: 0 }),
  },
  { additionalProperties: false },
);

export const ReasonCodeString = Type.String({
  pattern: "^[a-z0-9_:.-]{1,64}$",
  description: "1-64 characters of [a-z0-9_:.-]",
});
