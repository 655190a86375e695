import {
  ComponentDefaults,
  SCHEMA_VERSION,
  parseDuration,
  validateJob,
  type ContentRef,
  type Job,
  type SourceLocator,
} from "@tessera/contract";
import { CoordinatorError, invalidRequest } from "../errors.js";
import { ANY_CONTENT_TYPE } from "../sources/fetch-source.js";
import type { ComponentRegistration, SubmitInput, SubmitOptions } from "../types.js";

/** Inputs up to this size travel inside the envelope; larger ones go through the payload store. */
export const INLINE_INPUT_MAX_BYTES = 64 * 1024;

const utf8 = new TextEncoder();

/** How the input will travel: inline in the envelope, as bytes to upload first, or as a source to fetch later. */
export type PreparedInput =
  | { inline: unknown; contentType: string }
  | { upload: Uint8Array; contentType: string }
  | { source: SourceLocator; contentType: string };

const INPUT_KINDS = ["json", "text", "bytes", "source_locator"] as const;

/** Decides inline vs by reference. Pure; the caller uploads. */
export function prepareInput(input: SubmitInput, contentType: string | undefined): PreparedInput {
  if (typeof input !== "object" || input === null)
    throw invalidRequest("input", "one of {json}, {text}, {bytes} or {source_locator}", JSON.stringify(input));
  const kinds = INPUT_KINDS.filter((k) => k in input);
  if (kinds.length !== 1)
    throw invalidRequest(
      "input",
      "exactly one of json, text, bytes or source_locator",
      kinds.length === 0 ? "none of them" : kinds.join(" and "),
    );
  // Its shape is the envelope's to check; with no type given, the fetch takes the type the source serves.
  if ("source_locator" in input) return { source: input.source_locator, contentType: contentType ?? ANY_CONTENT_TYPE };
  if ("bytes" in input) {
    if (!(input.bytes instanceof Uint8Array)) throw invalidRequest("input.bytes", "a Uint8Array", typeof input.bytes);
    return { upload: input.bytes, contentType: contentType ?? "application/octet-stream" };
  }
  if ("text" in input) {
    if (typeof input.text !== "string") throw invalidRequest("input.text", "a string", typeof input.text);
    // Measured without encoding: most inputs travel inline, and their bytes are never needed here.
    return Buffer.byteLength(input.text) <= INLINE_INPUT_MAX_BYTES
      ? { inline: input.text, contentType: contentType ?? "text/plain" }
      : { upload: utf8.encode(input.text), contentType: contentType ?? "text/plain" };
  }
  let encoded: string | undefined;
  try {
    encoded = JSON.stringify(input.json);
  } catch (err) {
    throw invalidRequest("input.json", "a JSON-serializable value", (err as Error).message);
  }
  if (encoded === undefined) throw invalidRequest("input.json", "a JSON value", "undefined");
  return Buffer.byteLength(encoded) <= INLINE_INPUT_MAX_BYTES
    ? { inline: input.json, contentType: contentType ?? "application/json" }
    : { upload: utf8.encode(encoded), contentType: contentType ?? "application/json" };
}

/** A validated envelope and its JSON: encoded once, stored as is and published as is. */
export interface BuiltEnvelope {
  envelope: Job;
  json: string;
}

/** The Job envelope for a submit, with the component's limits and the shared config stamped in. Throws on invalid options. */
export function buildEnvelope(args: {
  jobId: string;
  registration: ComponentRegistration;
  input: { inline: unknown } | { contentRef: ContentRef } | { sourceLocator: SourceLocator };
  contentType: string;
  opts: SubmitOptions;
  sharedConfig: Record<string, unknown>;
  now: Date;
}): BuiltEnvelope {
  const { registration: reg, opts } = args;
  const own = {
    maxBytes: reg.spec.maxBytes ?? ComponentDefaults.maxBytes,
    wallClockMs:
      reg.spec.timeouts?.wallClock !== undefined
        ? durationMs(reg.spec.timeouts.wallClock)
        : ComponentDefaults.wallClockMs,
  };
  const envelope: Job = {
    schema_version: SCHEMA_VERSION,
    job_id: args.jobId,
    component: reg.name,
    content_type: args.contentType,
    limits: {
      max_bytes: lowered("maxBytes", opts.limits?.maxBytes, own.maxBytes, "bytes", "maxBytes"),
      wall_clock: lowered("wallClockMs", opts.limits?.wallClockMs, own.wallClockMs, "ms", "timeouts.wallClock"),
    },
    input:
      "inline" in args.input
        ? { inline: args.input.inline }
        : "contentRef" in args.input
          ? { content_ref: args.input.contentRef }
          : { source_locator: args.input.sourceLocator },
    submitted_at: args.now.toISOString(),
  };
  if (opts.deadline !== undefined) envelope.deadline = deadlineOf(opts.deadline);
  if (opts.metadata !== undefined) envelope.metadata = opts.metadata;
  if (opts.traceparent !== undefined) envelope.traceparent = opts.traceparent;
  if (Object.keys(args.sharedConfig).length > 0) envelope.shared_config = args.sharedConfig;
  const checked = validateJob(envelope);
  if (!checked.ok) throw new CoordinatorError("invalid_request", checked.error.message, checked.error.issues);
  if ("inline" in args.input) {
    const size = Buffer.byteLength(
      typeof args.input.inline === "string" ? args.input.inline : JSON.stringify(args.input.inline),
    );
    if (size > envelope.limits.max_bytes)
      throw invalidRequest(
        "input",
        `at most ${envelope.limits.max_bytes} bytes (the job's max_bytes)`,
        `${size} bytes`,
      );
  }
  const json = JSON.stringify(checked.value);
  // JSON escapes a NUL as \u0000 wherever it is: only then is it worth finding which field holds it.
  const nul = json.includes("\\u0000") ? nulCharacterPath(envelope) : undefined;
  if (nul !== undefined)
    throw invalidRequest(
      nul,
      "text without NUL (\\u0000) characters, which the job store cannot hold",
      "a NUL character",
    );
  return { envelope: checked.value, json };
}

/** Where a NUL character sits in what the store keeps as text or jsonb (Postgres refuses both). */
function nulCharacterPath(envelope: Job): string | undefined {
  if (envelope.content_type.includes("\u0000")) return "contentType";
  for (const [key, value] of Object.entries(envelope.metadata ?? {}))
    if (key.includes("\u0000") || value.includes("\u0000")) return `metadata.${key.replaceAll("\u0000", "\\u0000")}`;
  if (holdsNul(envelope.input.inline)) return "input";
  if (holdsNul(envelope.input.source_locator)) return "input.source_locator";
  if (holdsNul(envelope.shared_config)) return "shared_config";
  return undefined;
}

/** Whether a JSON value has a NUL character in any string or key (not the six characters `\\u0000`). */
function holdsNul(value: unknown): boolean {
  if (typeof value === "string") return value.includes("\u0000");
  if (Array.isArray(value)) return value.some(holdsNul);
  if (typeof value === "object" && value !== null)
    return Object.entries(value).some(([k, v]) => k.includes("\u0000") || holdsNul(v));
  return false;
}

/**
 * A job's own limit: the component's, or a lower one the submitter chose. A submitter can shorten the leash
 * for its job, never lengthen it past what the component was deployed (and sized) for.
 */
function lowered(
  field: "maxBytes" | "wallClockMs",
  requested: number | undefined,
  own: number,
  unit: string,
  specField: string,
): number {
  if (requested === undefined) return own;
  if (requested > own)
    throw invalidRequest(
      `limits.${field}`,
      `at most ${own} ${unit} (the component's ${specField}); a job may only lower its component's limits`,
      String(requested),
    );
  return requested;
}

/** A component's few durations, parsed once rather than by a regular expression on every submit. */
const parsedDurations = new Map<string, number>();

function durationMs(text: string): number {
  let ms = parsedDurations.get(text);
  if (ms === undefined) {
    ms = parseDuration(text);
    parsedDurations.set(text, ms);
  }
  return ms;
}

function deadlineOf(deadline: string | Date): string {
  const date = deadline instanceof Date ? deadline : new Date(deadline);
  if (Number.isNaN(date.getTime()))
    throw invalidRequest("deadline", "an ISO-8601 date-time such as 2026-01-31T12:00:00Z", JSON.stringify(deadline));
  return date.toISOString();
}
