import { Type, type Static } from "@sinclair/typebox";
import { ComponentName, Timestamp } from "./common-schemas.js";
import { envelopePreamble, parseEnvelopeBytes, utf8Encoder } from "./envelope-codec.js";
import { SCHEMA_VERSION } from "./schema-version.js";
import { compileValidator, type Validated } from "./validation-error.js";

/** How often workers beat by default; an instance is stale after three missed beats. */
export const HEARTBEAT_INTERVAL_MS = 5_000;
export const HEARTBEAT_STALE_AFTER_BEATS = 3;

export const HeartbeatSchema = Type.Object(
  {
    schema_version: Type.Literal(SCHEMA_VERSION),
    component: ComponentName,
    instance_id: Type.String({ minLength: 1, maxLength: 253 }),
    version: Type.String({ minLength: 1, maxLength: 128 }),
    sent_at: Timestamp,
    in_flight: Type.Integer({ minimum: 0 }),
    concurrency: Type.Optional(Type.Integer({ minimum: 1 })),
    /** Milliseconds between beats this instance promises; staleness is judged against it. */
    interval_ms: Type.Optional(Type.Integer({ minimum: 1 })),
  },
  { additionalProperties: false },
);
export type Heartbeat = Static<typeof HeartbeatSchema>;

const checkShape = compileValidator<Heartbeat>(HeartbeatSchema, "Heartbeat");

export function validateHeartbeat(value: unknown): Validated<Heartbeat> {
  const early = envelopePreamble(value, "Heartbeat");
  return early !== undefined ? { ok: false, error: early.error } : checkShape(value);
}

export function decodeHeartbeat(bytes: Uint8Array): Validated<Heartbeat> {
  const parsed = parseEnvelopeBytes(bytes, "Heartbeat");
  return parsed.ok ? validateHeartbeat(parsed.value) : parsed;
}

export function encodeHeartbeat(hb: Heartbeat): Uint8Array {
  const checked = validateHeartbeat(hb);
  if (!checked.ok) throw checked.error;
  return utf8Encoder.encode(JSON.stringify(hb));
}
