import {
  activeContext,
  contextFromTraceparent,
  endWithError,
  extractTrace,
  formatTraceparent,
  hasSpan,
  jobSpan,
  MessagingAttr,
  resultDedupKey,
  resultSpan,
  SpanKind,
  startMessagingSpan,
  TesseraAttr,
  withSpan,
  type PublishAck,
  type ResultEvent,
  type Span,
  type TraceContext,
} from "@tessera/bus";
import { COORDINATOR_RESULTS_CONSUMER } from "@tessera/contract";
import type { ResultApplyOutcome } from "../metrics/coordinator-metrics.js";
import type { SubmitOptions, SubmitOutcome } from "../types.js";

/**
 * The coordinator's hops of a job's trace (decision 0032): `create` at submit (its context goes into the
 * envelope's `traceparent`, so it survives the outbox, a restart and another replica's relay), `publish` when
 * the relay sends it (a child of `create`; its context travels in the message headers), and `process` when a
 * Result is applied (a child of the worker's Result `publish`, from the Result's headers).
 */

/**
 * Runs a submit in its `create` span. The parent is the caller's active span (the admin API request), else
 * the `traceparent` it passed. A recording span puts its own context in the envelope; otherwise the
 * caller's `traceparent` is kept as it was.
 */
export async function inCreateSpan(
  component: string,
  opts: SubmitOptions,
  submit: (opts: SubmitOptions) => Promise<SubmitOutcome>,
  scrub: (text: string) => string,
): Promise<SubmitOutcome> {
  const active = activeContext();
  const parent = hasSpan(active) ? active : contextFromTraceparent(opts.traceparent);
  const span = startMessagingSpan(SpanKind.PRODUCER, jobSpan("create", component), parent);
  const traced = span.isRecording() ? { ...opts, traceparent: formatTraceparent(span.spanContext()) } : opts;
  try {
    const outcome = await withSpan(span, () => submit(traced), parent);
    if (span.isRecording())
      span.setAttributes({
        [TesseraAttr.jobId]: outcome.jobId,
        [MessagingAttr.messageId]: outcome.jobId,
        "tessera.submit.created": outcome.created,
      });
    span.end();
    return outcome;
  } catch (err) {
    // A submit's error may quote what the caller sent (a secret pasted into the wrong field among it).
    endWithError(span, err, scrub);
    throw err;
  }
}

/** Publishes an outbox entry in its `publish` span, a child of the job's `create` span (the envelope's traceparent). */
export async function inPublishSpan(
  entry: {
    component: string;
    jobId: string;
    dedupKey: string;
    envelope: { traceparent?: string };
    mayRepeat?: boolean;
  },
  publish: () => Promise<PublishAck>,
): Promise<PublishAck> {
  const parent = contextFromTraceparent(entry.envelope.traceparent);
  const span = startMessagingSpan(SpanKind.PRODUCER, jobSpan("send", entry.component), parent);
  if (span.isRecording())
    span.setAttributes({
      [TesseraAttr.jobId]: entry.jobId,
      [MessagingAttr.messageId]: entry.dedupKey,
      "tessera.publish.may_repeat": entry.mayRepeat === true,
    });
  try {
    const ack = await withSpan(span, publish, parent);
    if (span.isRecording()) span.setAttribute("tessera.publish.duplicate", ack.duplicate);
    span.end();
    return ack;
  } catch (err) {
    endWithError(span, err);
    throw err;
  }
}

/** Applies a Result in its `process` span, a child of the worker's `publish` span (the Result's headers). */
export async function inApplySpan(
  event: ResultEvent,
  apply: () => Promise<ResultApplyOutcome>,
): Promise<ResultApplyOutcome> {
  if (event.kind !== "result") return apply();
  const { result } = event;
  const parent: TraceContext = extractTrace(event.traceHeaders);
  const span: Span = startMessagingSpan(SpanKind.CONSUMER, resultSpan("process", result.component), parent);
  if (span.isRecording())
    span.setAttributes({
      [MessagingAttr.destinationName]: event.subject,
      [MessagingAttr.consumerGroup]: COORDINATOR_RESULTS_CONSUMER,
      [MessagingAttr.messageId]: resultDedupKey(result),
      [TesseraAttr.jobId]: result.job_id,
      [TesseraAttr.resultStatus]: result.status,
      ...(result.reason_code !== undefined ? { [TesseraAttr.reasonCode]: result.reason_code } : {}),
    });
  try {
    const outcome = await withSpan(span, apply, parent);
    if (span.isRecording()) span.setAttribute(TesseraAttr.applyOutcome, outcome);
    span.end();
    return outcome;
  } catch (err) {
    endWithError(span, err);
    throw err;
  }
}
