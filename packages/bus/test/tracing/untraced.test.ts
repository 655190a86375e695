/**
 * Without an SDK (no OTEL_* variables: nothing registered in this test process), the bus adds no headers and
 * reads none, and every span is the API's no-op: what "tracing off costs nothing" rests on.
 */
import { trace } from "@opentelemetry/api";
import { SCHEMA_VERSION, type Job } from "@tessera/contract";
import { describe, expect, it } from "vitest";
import {
  createInProcessBus,
  injectTrace,
  jobSpan,
  SpanKind,
  startMessagingSpan,
  traceLogFields,
  withSpan,
  type JobDelivery,
} from "../../src/index.js";
import { contextFromTraceparent } from "../../src/tracing/trace-context.js";

const job: Job = {
  schema_version: SCHEMA_VERSION,
  job_id: "0c5e4d1e-0000-4000-8000-000000000001",
  component: "untraced",
  content_type: "application/json",
  limits: { max_bytes: 1024, wall_clock: 1000 },
  input: { inline: { a: 1 } },
  submitted_at: new Date(0).toISOString(),
};

describe("with no SDK registered", () => {
  it("spans are the no-op kind and no trace header is written", () => {
    const span = startMessagingSpan(SpanKind.PRODUCER, jobSpan("send", "untraced"), contextFromTraceparent(undefined));
    expect(span.isRecording()).toBe(false);
    expect(trace.isSpanContextValid(span.spanContext())).toBe(false);
    expect(withSpan(span, () => injectTrace())).toBeUndefined();
    expect(withSpan(span, () => traceLogFields())).toEqual({});
  });

  it("a job crosses the in-process bus with no trace headers", async () => {
    const bus = createInProcessBus();
    await bus.ensureComponent({ name: "untraced", ackWaitMs: 5_000, maxDeliver: 2, duplicateWindowMs: 60_000 });
    const delivered = new Promise<JobDelivery>((resolve) => {
      void bus.consumeJobs("untraced", { maxInFlight: 1 }, (d) => {
        d.ack();
        resolve(d);
      });
    });
    const span = startMessagingSpan(
      SpanKind.PRODUCER,
      jobSpan("send", "untraced"),
      contextFromTraceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
    );
    await withSpan(span, () => bus.publishJob(job));
    expect((await delivered).traceHeaders).toBeUndefined();
    await bus.close();
  });
});
