import type { Bus, JobDelivery } from "@tessera/bus";
import {
  ContractValidationError,
  JOB_ID_PATTERN,
  ReasonCode,
  SCHEMA_VERSION,
  decodeJob,
  sanitizeReasonDetail,
  type Job,
} from "@tessera/contract";

const JOB_ID = new RegExp(JOB_ID_PATTERN);
const utf8Decoder = new TextDecoder();

export type DecodedDelivery =
  | { ok: true; job: Job }
  | {
      ok: false;
      /** `unsupported_schema_version` or `invalid_envelope`. */
      reasonCode: string;
      /** The validation error's message; it names the field. */
      detail: string;
      /** Whom the delivery can be attributed to: the envelope's job_id, else its dedup key, if either is a valid id. */
      jobId: string | undefined;
    };

/**
 * Decodes a delivery into a job for `component`. Never throws, whatever the bytes: anything that is not a
 * valid job of this component comes back with the reason code and the job id it can be recorded under.
 */
export function decodeDelivery(delivery: JobDelivery, component: string): DecodedDelivery {
  let decoded: ReturnType<typeof decodeJob>;
  try {
    decoded = decodeJob(delivery.data);
  } catch (err) {
    // decodeJob promises not to throw; if it ever does, the bytes are still not a job we can run.
    decoded = {
      ok: false,
      problem: "invalid_envelope",
      error: new ContractValidationError("Job", [
        { path: "(root)", expected: "a decodable envelope", received: String(err) },
      ]),
    };
  }
  if (decoded.ok && decoded.value.component === component) return { ok: true, job: decoded.value };
  const error = decoded.ok
    ? new ContractValidationError("Job", [
        {
          path: "component",
          expected: JSON.stringify(component),
          received: `string ${JSON.stringify(decoded.value.component)} (a job for another component)`,
        },
      ])
    : decoded.error;
  const reasonCode =
    !decoded.ok && decoded.problem === "unsupported_schema_version"
      ? ReasonCode.UnsupportedSchemaVersion
      : ReasonCode.InvalidEnvelope;
  return { ok: false, reasonCode, detail: sanitizeReasonDetail(error.message), jobId: attributableJobId(delivery) };
}

/** The envelope's job_id when it is a well-formed id, else the delivery's dedup key when that is one. */
export function attributableJobId(delivery: Pick<JobDelivery, "data" | "dedupKey">): string | undefined {
  const claimed = claimedJobId(delivery.data);
  if (claimed !== undefined) return claimed;
  return delivery.dedupKey !== undefined && JOB_ID.test(delivery.dedupKey) ? delivery.dedupKey : undefined;
}

function claimedJobId(data: Uint8Array): string | undefined {
  try {
    const value = JSON.parse(utf8Decoder.decode(data)) as unknown;
    if (typeof value !== "object" || value === null) return undefined;
    const id = (value as { job_id?: unknown }).job_id;
    return typeof id === "string" && JOB_ID.test(id) ? id : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Records why a delivery is not a job: a failed Result under its job id when it has one, otherwise a dead
 * letter keeping the original bytes. Throws when the bus cannot store it (the caller naks then, because
 * terming a message without a record of why would lose it silently).
 */
export async function recordInvalidEnvelope(
  bus: Bus,
  delivery: JobDelivery,
  invalid: Extract<DecodedDelivery, { ok: false }>,
  meta: { component: string; instanceId: string },
): Promise<void> {
  const now = new Date().toISOString();
  if (invalid.jobId !== undefined) {
    await bus.publishResult({
      schema_version: SCHEMA_VERSION,
      job_id: invalid.jobId,
      component: meta.component,
      status: "failed",
      reason_code: invalid.reasonCode,
      reason_detail: invalid.detail,
      attempt: Math.max(1, delivery.deliveryCount),
      instance_id: meta.instanceId,
      finished_at: now,
    });
    return;
  }
  await bus.publishDeadLetter({
    component: meta.component,
    jobId: undefined,
    streamSeq: delivery.streamSeq,
    deliveries: delivery.deliveryCount,
    reasonCode: invalid.reasonCode,
    reasonDetail: invalid.detail,
    data: delivery.data,
    deadLetteredAt: now,
  });
}
