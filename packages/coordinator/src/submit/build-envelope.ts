import { ComponentDefaults, SCHEMA_VERSION, parseDuration, validateJob, type ContentRef, type Job } from "@tessera/contract";
import { CoordinatorError, invalidRequest } from "../errors.js";
import type { ComponentRegistration, SubmitInput, SubmitOptions } from "../types.js";

/** Inputs up to this size travel inside the envelope; larger ones go through the payload store. */
export const INLINE_INPUT_MAX_BYTES = 64 * 1024;

const utf8 = new TextEncoder();

/** How the input will travel: inline in the envelope, or as bytes to upload first. */
export type PreparedInput = { inline: unknown; contentType: string } | { upload: Uint8Array; contentType: string };

/** Decides inline vs by reference. Pure; the caller uploads. */
export function prepareInput(input: SubmitInput, contentType: string | undefined): PreparedInput {
  if (typeof input !== "object" || input === null) throw invalidRequest("input", "one of {json}, {text} or {bytes}", JSON.stringify(input));
  const kinds = (["json", "text", "bytes"] as const).filter((k) => k in input);
  if (kinds.length !== 1) throw invalidRequest("input", "exactly one of json, text or bytes", kinds.length === 0 ? "none of them" : kinds.join(" and "));
  if ("bytes" in input) {
    if (!(input.bytes instanceof Uint8Array)) throw invalidRequest("input.bytes", "a Uint8Array", typeof input.bytes);
    return { upload: input.bytes, contentType: contentType ?? "application/octet-stream" };
  }
  if ("text" in input) {
    if (typeof input.text !== "string") throw invalidRequest("input.text", "a string", typeof input.text);
    const bytes = utf8.encode(input.text);
    return bytes.byteLength <= INLINE_INPUT_MAX_BYTES ? { inline: input.text, contentType: contentType ?? "text/plain" } : { upload: bytes, contentType: contentType ?? "text/plain" };
  }
  let encoded: string | undefined;
  try {
    encoded = JSON.stringify(input.json);
  } catch (err) {
    throw invalidRequest("input.json", "a JSON-serializable value", (err as Error).message);
  }
  if (encoded === undefined) throw invalidRequest("input.json", "a JSON value", "undefined");
  const bytes = utf8.encode(encoded);
  return bytes.byteLength <= INLINE_INPUT_MAX_BYTES ? { inline: input.json, contentType: contentType ?? "application/json" } : { upload: bytes, contentType: contentType ?? "application/json" };
}

/** The Job envelope for a submit, with the component's limits and the shared config stamped in. Throws on invalid options. */
export function buildEnvelope(args: {
  jobId: string;
  registration: ComponentRegistration;
  input: { inline: unknown } | { contentRef: ContentRef };
  contentType: string;
  opts: SubmitOptions;
  sharedConfig: Record<string, unknown>;
  now: Date;
}): Job {
  const { registration: reg, opts } = args;
  const envelope: Job = {
    schema_version: SCHEMA_VERSION,
    job_id: args.jobId,
    component: reg.name,
    content_type: args.contentType,
    limits: {
      max_bytes: opts.limits?.maxBytes ?? reg.spec.maxBytes ?? ComponentDefaults.maxBytes,
      wall_clock: opts.limits?.wallClockMs ?? (reg.spec.timeouts?.wallClock !== undefined ? parseDuration(reg.spec.timeouts.wallClock) : ComponentDefaults.wallClockMs),
    },
    input: "inline" in args.input ? { inline: args.input.inline } : { content_ref: args.input.contentRef },
    submitted_at: args.now.toISOString(),
  };
  if (opts.deadline !== undefined) envelope.deadline = deadlineOf(opts.deadline);
  if (opts.metadata !== undefined) envelope.metadata = opts.metadata;
  if (opts.traceparent !== undefined) envelope.traceparent = opts.traceparent;
  if (Object.keys(args.sharedConfig).length > 0) envelope.shared_config = args.sharedConfig;
  const checked = validateJob(envelope);
  if (!checked.ok) throw new CoordinatorError("invalid_request", checked.error.message, checked.error.issues);
  if ("inline" in args.input) {
    const size = utf8.encode(typeof args.input.inline === "string" ? args.input.inline : JSON.stringify(args.input.inline)).byteLength;
    if (size > envelope.limits.max_bytes) throw invalidRequest("input", `at most ${envelope.limits.max_bytes} bytes (the job's max_bytes)`, `${size} bytes`);
  }
  const nul = nulCharacterPath(envelope);
  if (nul !== undefined) throw invalidRequest(nul, "text without NUL (\\u0000) characters, which the job store cannot hold", "a NUL character");
  return checked.value;
}

/** Where a NUL character sits in what the store keeps as text or jsonb (Postgres refuses both). */
function nulCharacterPath(envelope: Job): string | undefined {
  for (const [key, value] of Object.entries(envelope.metadata ?? {})) if (key.includes("\u0000") || value.includes("\u0000")) return `metadata.${key.replaceAll("\u0000", "\\u0000")}`;
  if (envelope.input.inline !== undefined && JSON.stringify(envelope.input.inline).includes("\\u0000")) return "input";
  if (envelope.shared_config !== undefined && JSON.stringify(envelope.shared_config).includes("\\u0000")) return "shared_config";
  return undefined;
}

function deadlineOf(deadline: string | Date): string {
  const date = deadline instanceof Date ? deadline : new Date(deadline);
  if (Number.isNaN(date.getTime())) throw invalidRequest("deadline", "an ISO-8601 date-time such as 2026-01-31T12:00:00Z", JSON.stringify(deadline));
  return date.toISOString();
}
