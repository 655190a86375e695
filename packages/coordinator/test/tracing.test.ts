/**
 * A job's trace in embedded mode, with an SDK registered in this process (as `tessera dev` does when OTEL_*
 * asks): the admin API's server span, submit, the relay's publish, the worker's process span and its Result
 * publish, and the apply, all on the in-process bus; log lines inside a span carry its ids.
 */
import { Writable } from "node:stream";
import { context, SpanKind, trace } from "@opentelemetry/api";
import { InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from "@opentelemetry/sdk-trace-base";
import { NodeTracerProvider } from "@opentelemetry/sdk-trace-node";
import { traceLogFields } from "@tessera/bus";
import { SCHEMA_VERSION } from "@tessera/contract";
import { waitFor } from "@tessera/testkit";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startAdminServer, type AdminServer } from "../src/index.js";
import { embedded, spec, type Embedded } from "./harness.js";

const exporter = new InMemorySpanExporter();
const provider = new NodeTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
const TRACE_ID = "5bf92f3577b34da6a3ce929d0e0e4737";
const lines: Array<Record<string, unknown>> = [];
const logger = pino(
  { level: "info", mixin: traceLogFields },
  new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString().split("\n")) if (l !== "") lines.push(JSON.parse(l) as Record<string, unknown>);
      done();
    },
  }),
);

let world: Embedded;
let admin: AdminServer;
let jobId = "";

beforeAll(async () => {
  provider.register();
  world = await embedded({ memory: true }, [{ name: "traced", spec: spec() }], { logger });
  await world.run({
    name: "traced",
    async handle(ctx) {
      return { got: await ctx.input.json() };
    },
  });
  admin = await startAdminServer(world.coordinator, { logger });
  const res = await fetch(`${admin.url}/api/v1/jobs`, {
    method: "POST",
    headers: { "content-type": "application/json", traceparent: `00-${TRACE_ID}-00f067aa0ba902b7-01` },
    body: JSON.stringify({ component: "traced", input: { json: { n: 1 } } }),
  });
  jobId = ((await res.json()) as { jobId: string }).jobId;
  expect((await world.coordinator.waitForJob(jobId, { timeoutMs: 10_000 })).state).toBe("completed");
});

afterAll(async () => {
  await admin?.close();
  await world?.close();
  await provider.shutdown();
});

function span(name: string): ReadableSpan {
  const found = exporter.getFinishedSpans().filter((s) => s.name === name && s.spanContext().traceId === TRACE_ID);
  expect(found, name).toHaveLength(1);
  return found[0] as ReadableSpan;
}

describe("a job's trace in embedded mode", () => {
  it("is one tree from the request to the apply, each hop of its kind", async () => {
    // The apply's span ends after the job is recorded; give it the turn it needs.
    await new Promise((r) => setTimeout(r, 50));
    const chain: Array<[string, SpanKind]> = [
      ["POST /api/v1/jobs", SpanKind.SERVER],
      ["create tessera.jobs.traced", SpanKind.PRODUCER],
      ["publish tessera.jobs.traced", SpanKind.PRODUCER],
      ["process tessera.jobs.traced", SpanKind.CONSUMER],
      ["publish tessera.results.traced.*", SpanKind.PRODUCER],
      ["process tessera.results.traced.*", SpanKind.CONSUMER],
    ];
    expect(span("POST /api/v1/jobs").parentSpanContext?.spanId).toBe("00f067aa0ba902b7");
    for (const [i, [name, kind]] of chain.entries()) {
      expect(span(name).kind, name).toBe(kind);
      if (i > 0)
        expect(span(name).parentSpanContext?.spanId, name).toBe(span(chain[i - 1]?.[0] ?? "").spanContext().spanId);
    }
    expect(span("process tessera.jobs.traced").links.map((l) => l.context.spanId)).toEqual([
      span("create tessera.jobs.traced").spanContext().spanId,
    ]);
  });

  it("puts the create span's context in the stored envelope", async () => {
    const job = await world.coordinator.getJob(jobId);
    const create = span("create tessera.jobs.traced").spanContext();
    expect(job?.envelope.traceparent).toBe(`00-${TRACE_ID}-${create.spanId}-01`);
  });

  it("gives the coordinator's log lines written inside a span its trace_id and span_id", async () => {
    // A Result for a job the store does not hold: the coordinator warns while applying it, in its apply span.
    const root = trace.getTracer("test").startSpan("test root");
    const unknownJob = "0c5e4d1e-0000-4000-8000-00000000dead";
    await context.with(trace.setSpan(context.active(), root), () =>
      world.bus.publishResult({
        schema_version: SCHEMA_VERSION,
        job_id: unknownJob,
        component: "traced",
        attempt: 1,
        instance_id: "test",
        finished_at: new Date().toISOString(),
        duration_ms: 1,
        status: "completed",
      }),
    );
    root.end();
    const line = await waitFor("the coordinator's warning", () =>
      lines.find(
        (l) => typeof l["msg"] === "string" && l["msg"].startsWith("ignored a Result") && l["jobId"] === unknownJob,
      ),
    );
    const apply = exporter
      .getFinishedSpans()
      .find((s) => s.name === "process tessera.results.traced.*" && s.attributes["tessera.job.id"] === unknownJob);
    expect(apply?.parentSpanContext?.spanId).toBe(root.spanContext().spanId);
    expect(apply?.attributes["tessera.result.apply"]).toBe("unknown");
    expect(line["trace_id"]).toBe(root.spanContext().traceId);
    expect(line["span_id"]).toBe(apply?.spanContext().spanId);
    // Outside any span, no ids.
    logger.info("outside");
    expect(lines.at(-1)).toMatchObject({ msg: "outside" });
    expect(lines.at(-1)).not.toHaveProperty("trace_id");
  });
});
