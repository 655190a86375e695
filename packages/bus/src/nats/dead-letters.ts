import { createHash } from "node:crypto";
import type { JetStreamClient, StoredMsg } from "@nats-io/jetstream";
import type { JsMsg } from "@nats-io/jetstream";
import { headers, type MsgHdrs } from "@nats-io/transport-node";
import { DLQ_STREAM, decodeNameToken, dlqSubject, sanitizeReasonDetail } from "@tessera/contract";
import type { DeadLetter, ExhaustedDelivery } from "../bus.js";
import { jobIdOf } from "../envelope-job-id.js";

/** Header names of a dead letter. Values are percent-encoded (headers cannot carry CR/LF). */
export const DlqHeaders = {
  Component: "Tessera-Component",
  JobId: "Tessera-Job-Id",
  StreamSeq: "Tessera-Stream-Seq",
  Deliveries: "Tessera-Deliveries",
  ReasonCode: "Tessera-Reason-Code",
  ReasonDetail: "Tessera-Reason-Detail",
  DeadLetteredAt: "Tessera-Dead-Lettered-At",
} as const;

function decodeHeader(h: MsgHdrs | undefined, name: string): string | undefined {
  const raw = h?.get(name);
  if (raw === undefined || raw === "") return undefined;
  try {
    return decodeURIComponent(raw);
  } catch {
    return raw;
  }
}

function intHeader(h: MsgHdrs | undefined, name: string): number | undefined {
  const v = decodeHeader(h, name);
  if (v === undefined || !/^\d+$/.test(v)) return undefined;
  return Number(v);
}

/**
 * The dedup key of a dead letter: one per source message (component + stream sequence) when it came from
 * the job stream, else one per job id (or content hash) and dead-lettering time, so retrying the same
 * letter is a no-op while two separate events stay two letters.
 */
export function deadLetterMsgId(
  letter: Pick<DeadLetter, "component" | "jobId" | "streamSeq" | "data" | "deadLetteredAt">,
): string {
  const c = encodeURIComponent(letter.component);
  if (letter.streamSeq !== undefined) return `dlq:${c}:${letter.streamSeq}`;
  const key = letter.jobId ?? createHash("sha256").update(letter.data).digest("hex");
  return `dlq:${c}:${key}:${letter.deadLetteredAt}`;
}

/** `data` is the job's bytes (the event's, or read from the stream); empty when the job is gone. */
export function letterFromEvent(
  event: ExhaustedDelivery,
  data: Uint8Array | undefined,
  reason: { reasonCode: string; reasonDetail?: string },
  now = new Date(),
): DeadLetter {
  return {
    component: event.component,
    // The envelope is authoritative (a redrive publishes under a fresh dedup key); the dedup key is the fallback.
    jobId: jobIdOf(data) ?? event.dedupKey,
    streamSeq: event.streamSeq,
    deliveries: event.deliveries,
    reasonCode: reason.reasonCode,
    reasonDetail: sanitizeReasonDetail(reason.reasonDetail ?? ""),
    data: data ?? new Uint8Array(0),
    deadLetteredAt: now.toISOString(),
  };
}

export async function publishLetter(js: JetStreamClient, letter: DeadLetter): Promise<void> {
  const h = headers();
  h.set(DlqHeaders.Component, encodeURIComponent(letter.component));
  if (letter.jobId !== undefined) h.set(DlqHeaders.JobId, encodeURIComponent(letter.jobId));
  if (letter.streamSeq !== undefined) h.set(DlqHeaders.StreamSeq, String(letter.streamSeq));
  h.set(DlqHeaders.Deliveries, String(letter.deliveries));
  h.set(DlqHeaders.ReasonCode, encodeURIComponent(letter.reasonCode));
  const detail = sanitizeReasonDetail(letter.reasonDetail);
  if (detail !== "") h.set(DlqHeaders.ReasonDetail, encodeURIComponent(detail));
  h.set(DlqHeaders.DeadLetteredAt, encodeURIComponent(letter.deadLetteredAt));
  await js.publish(dlqSubject(letter.component), letter.data, { msgID: deadLetterMsgId(letter), headers: h });
}

export function letterFromMessage(m: JsMsg | StoredMsg): DeadLetter {
  const h = "header" in m ? m.header : m.headers;
  let component = decodeHeader(h, DlqHeaders.Component);
  if (component === undefined) {
    try {
      component = decodeNameToken(m.subject.split(".").slice(2).join("."));
    } catch {
      component = m.subject;
    }
  }
  return {
    component,
    jobId: decodeHeader(h, DlqHeaders.JobId),
    streamSeq: intHeader(h, DlqHeaders.StreamSeq),
    deliveries: intHeader(h, DlqHeaders.Deliveries) ?? 0,
    reasonCode: decodeHeader(h, DlqHeaders.ReasonCode) ?? "",
    reasonDetail: decodeHeader(h, DlqHeaders.ReasonDetail) ?? "",
    data: m.data,
    deadLetteredAt: decodeHeader(h, DlqHeaders.DeadLetteredAt) ?? m.time.toISOString(),
  };
}

/** Every message on the component's DLQ subject, oldest first, through a short-lived ordered consumer. */
export async function readDeadLetters(js: JetStreamClient, component: string): Promise<DeadLetter[]> {
  const consumer = await js.consumers.get(DLQ_STREAM, { filter_subjects: dlqSubject(component) });
  try {
    let remaining = (await consumer.info()).num_pending;
    const out: DeadLetter[] = [];
    let idle = 0;
    while (remaining > 0 && idle < 3) {
      const before = out.length;
      const iter = await consumer.fetch({ max_messages: remaining, expires: 2_000 });
      for await (const m of iter) {
        out.push(letterFromMessage(m));
        remaining = m.info.pending;
      }
      idle = out.length === before ? idle + 1 : 0;
    }
    return out;
  } finally {
    await consumer.delete().catch(() => undefined);
  }
}
