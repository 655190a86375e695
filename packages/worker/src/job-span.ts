import {
  contextFromTraceparent,
  extractTrace,
  hasSpan,
  jobSpan,
  MessagingAttr,
  parseTraceparent,
  setActiveAttributes,
  setActiveError,
  SpanKind,
  startMessagingSpan,
  TesseraAttr,
  type JobDelivery,
  type Span,
  type TraceContext,
} from "@tessera/bus";
import { durableConsumerName } from "@tessera/contract";
import type { DecodedDelivery } from "./invalid-envelope.js";
import type { JobOutcome } from "./metrics.js";

/**
 * A delivery's `process` span (consumer kind), started in the host, whichever thread runs the handler.
 * Its parent is the relay's `publish` span, whose context the message headers carry; it links to the
 * submit's `create` span, whose context the envelope's `traceparent` carries (decision 0032). A message
 * without trace headers (published untraced, or by a tool) is parented on the envelope's context instead, so
 * the job's trace stays one tree.
 */
export function startProcessSpan(
  delivery: JobDelivery,
  decoded: DecodedDelivery,
  component: string,
): { span: Span; parent: TraceContext } {
  const traceparent = decoded.ok ? decoded.job.traceparent : undefined;
  let parent = extractTrace(delivery.traceHeaders);
  if (!hasSpan(parent)) parent = contextFromTraceparent(traceparent);
  const created = parseTraceparent(traceparent);
  const span = startMessagingSpan(
    SpanKind.CONSUMER,
    jobSpan("process", component),
    parent,
    undefined,
    created === undefined ? undefined : [{ context: created, attributes: { "tessera.link": "created" } }],
  );
  if (span.isRecording()) {
    const jobId = decoded.ok ? decoded.job.job_id : decoded.jobId;
    span.setAttributes({
      [MessagingAttr.consumerGroup]: durableConsumerName(component),
      [MessagingAttr.bodySize]: delivery.data.byteLength,
      [TesseraAttr.attempt]: delivery.deliveryCount,
      ...(jobId !== undefined ? { [TesseraAttr.jobId]: jobId } : {}),
      ...(delivery.dedupKey !== undefined ? { [MessagingAttr.messageId]: delivery.dedupKey } : {}),
    });
  }
  return { span, parent };
}

/** Outcomes that mean the delivery did not end as its handler meant: the span's status is ERROR. */
const FAILED: ReadonlySet<JobOutcome> = new Set(["failed", "timeout", "retried", "invalid"]);

/** Says how the delivery ended on the active (process) span. */
export function markOutcome(outcome: JobOutcome): void {
  setActiveAttributes({ [TesseraAttr.outcome]: outcome });
  if (FAILED.has(outcome)) setActiveError(outcome);
}
