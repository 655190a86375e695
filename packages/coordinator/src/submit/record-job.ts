import { randomUUID } from "node:crypto";
import type { Bus } from "@tessera/bus";
import type { SourceLocator } from "@tessera/contract";
import { invalidRequest } from "../errors.js";
import { checkSourceLocator } from "../sources/check-source-locator.js";
import type { SourceSecretBook } from "../sources/source-config.js";
import type { JobSummary } from "../store/job-row.js";
import type { JobStorage, OutboxEntry } from "../store/job-storage.js";
import type { ComponentRegistration, SubmitInput, SubmitOptions } from "../types.js";
import { buildEnvelope, prepareInput } from "./build-envelope.js";

const MAX_IDEMPOTENCY_KEY = 255;
const utf8 = new TextEncoder();

export interface RecordJobParts {
  store: JobStorage;
  bus: Bus;
  /** The shared config every job is stamped with, as of now. */
  sharedConfig(): Record<string, unknown>;
  /** The secrets a source locator may name (checked at submit). */
  sourceSecrets: SourceSecretBook;
}

/**
 * A submit up to its record: what the store holds afterwards (an existing job, for an idempotency key it
 * has seen), and for a new job the outbox entry the relay can publish from memory.
 */
export type Recorded =
  | { created: false; job: Pick<JobSummary, "jobId" | "state"> }
  | { created: true; job: JobSummary; entry: OutboxEntry | undefined };

/**
 * Checks a submit, uploads an input too large to travel inline (after every option is checked, so a bad one
 * leaves no orphan object), builds and encodes the envelope once, and records the job with its outbox row. A
 * source locator is checked and recorded as given: its input is fetched before dispatch (sources/source-stage.ts).
 */
export async function recordJob(
  parts: RecordJobParts,
  registration: ComponentRegistration,
  limitKey: string | null,
  input: SubmitInput,
  opts: SubmitOptions,
): Promise<Recorded> {
  const component = registration.name;
  const key = opts.idempotencyKey;
  if (key !== undefined) {
    if (typeof key !== "string" || key.length === 0 || key.length > MAX_IDEMPOTENCY_KEY || key.includes("\u0000")) {
      throw invalidRequest(
        "idempotencyKey",
        `a string of 1 to ${MAX_IDEMPOTENCY_KEY} characters without NUL`,
        JSON.stringify(key),
      );
    }
    const existing = await parts.store.findByIdempotencyKey(component, key);
    if (existing !== undefined) return { created: false, job: existing };
  }
  const prepared = prepareInput(input, opts.contentType);
  const jobId = randomUUID();
  const now = new Date();
  const sharedConfig = parts.sharedConfig();
  const envelopeWith = (jobInput: Parameters<typeof buildEnvelope>[0]["input"]) =>
    buildEnvelope({ jobId, registration, input: jobInput, contentType: prepared.contentType, opts, sharedConfig, now });
  let built;
  if ("upload" in prepared) {
    const maxBytes = envelopeWith({
      contentRef: { object_ref: `${jobId}/pending`, byte_size: prepared.upload.byteLength },
    }).envelope.limits.max_bytes;
    if (prepared.upload.byteLength > maxBytes)
      throw invalidRequest(
        "input",
        `at most ${maxBytes} bytes (the job's max_bytes)`,
        `${prepared.upload.byteLength} bytes`,
      );
    const contentRef = await parts.bus.payloads.put(jobId, prepared.upload, { maxBytes });
    built = envelopeWith({ contentRef });
  } else if ("source" in prepared) {
    built = envelopeWith({ sourceLocator: prepared.source });
    const { input, limits } = built.envelope;
    checkSourceLocator(input.source_locator as SourceLocator, registration, limits.max_bytes, parts.sourceSecrets);
  } else {
    built = envelopeWith({ inline: prepared.inline });
  }
  const inserted = await parts.store.insertJob({
    envelope: built.envelope,
    envelopeJson: built.json,
    limitKey,
    idempotencyKey: key ?? null,
  });
  if (!inserted.created) return { created: false, job: inserted.job };
  const entry =
    inserted.outboxId === undefined
      ? undefined
      : {
          id: inserted.outboxId,
          jobId,
          component,
          limitKey,
          dedupKey: jobId,
          envelope: built.envelope,
          encoded: utf8.encode(built.json),
        };
  return { created: true, job: inserted.job, entry };
}
