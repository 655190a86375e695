/**
 * One job's trace across processes, as an operator sees it: `tessera dev examples/documents --nats <url>` (the
 * coordinator and its admin API in one process, each component in worker processes the autoscaler starts) with
 * the standard OTEL_* variables pointing at a loopback OTLP/HTTP receiver. A job submitted through the admin
 * API with a caller's traceparent must come back as one trace: the request, the submit, the relay's publish,
 * the worker's process span (linked to the submit) and its Result publish, the coordinator's apply, and the
 * chained chunk-embed job the apply submits, through its own worker process.
 */
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  OtlpSpanKind,
  startNatsServer,
  startOtlpReceiver,
  startTesseraDev,
  waitFor,
  type DevProcess,
  type NatsServerHandle,
  type OtlpReceiver,
  type ReceivedSpan,
} from "@tessera/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const here = dirname(fileURLToPath(import.meta.url));
const DOCUMENTS = join(here, "..", "..", "examples", "documents");
const TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736";
const CALLER_SPAN = "00f067aa0ba902b7";

let nats: NatsServerHandle | undefined;
let receiver: OtlpReceiver | undefined;
let dev: DevProcess | undefined;
let jobId = "";
let trace: ReceivedSpan[] = [];

/** The spans of the trace in the order of the job's life, by name (the chained job's after the first job's). */
const EXPECTED = [
  { name: "POST /api/v1/jobs", kind: OtlpSpanKind.server, service: "tessera-coordinator" },
  { name: "create tessera.jobs.extract", kind: OtlpSpanKind.producer, service: "tessera-coordinator" },
  { name: "publish tessera.jobs.extract", kind: OtlpSpanKind.producer, service: "tessera-coordinator" },
  { name: "process tessera.jobs.extract", kind: OtlpSpanKind.consumer, service: "tessera-worker-extract" },
  { name: "publish tessera.results.extract.*", kind: OtlpSpanKind.producer, service: "tessera-worker-extract" },
  { name: "process tessera.results.extract.*", kind: OtlpSpanKind.consumer, service: "tessera-coordinator" },
  { name: "create tessera.jobs.chunk-embed", kind: OtlpSpanKind.producer, service: "tessera-coordinator" },
  { name: "publish tessera.jobs.chunk-embed", kind: OtlpSpanKind.producer, service: "tessera-coordinator" },
  { name: "process tessera.jobs.chunk-embed", kind: OtlpSpanKind.consumer, service: "tessera-worker-chunk-embed" },
  {
    name: "publish tessera.results.chunk-embed.*",
    kind: OtlpSpanKind.producer,
    service: "tessera-worker-chunk-embed",
  },
  { name: "process tessera.results.chunk-embed.*", kind: OtlpSpanKind.consumer, service: "tessera-coordinator" },
] as const;

beforeAll(async () => {
  nats = await startNatsServer();
  receiver = await startOtlpReceiver();
  dev = await startTesseraDev(DOCUMENTS, ["--nats", nats.url], {
    OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
    OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
    // Exported within a fraction of a second instead of the default 5 s.
    OTEL_BSP_SCHEDULE_DELAY: "100",
    LOG_LEVEL: "info",
  });
  const admin = dev.dashboardUrl.replace(/\/$/, "");
  const res = await fetch(`${admin}/api/v1/jobs`, {
    method: "POST",
    headers: { "content-type": "application/json", traceparent: `00-${TRACE_ID}-${CALLER_SPAN}-01` },
    body: JSON.stringify({
      component: "extract",
      input: { text: "Tracing across the bus.\n\nOne trace, every hop." },
      contentType: "text/plain",
      metadata: { tenant: "acme" },
    }),
  });
  expect(res.status).toBe(201);
  jobId = ((await res.json()) as { jobId: string }).jobId;
  trace = await waitFor(
    "the whole trace at the OTLP receiver",
    () => {
      const spans = receiver?.spans().filter((s) => s.traceId === TRACE_ID) ?? [];
      return EXPECTED.every((e) => spans.some((s) => s.name === e.name)) ? spans : undefined;
    },
    90_000,
  );
}, 150_000);

afterAll(async () => {
  // SIGTERM, so that `tessera dev` stops its worker processes (a SIGKILL would leave them running).
  if (dev !== undefined && dev.process.proc.exitCode === null) {
    dev.process.proc.kill("SIGTERM");
    const exited = await Promise.race([
      dev.process.exited.then(() => true),
      new Promise<boolean>((r) => setTimeout(() => r(false), 30_000)),
    ]);
    if (!exited) await dev.stop();
  }
  await receiver?.close();
  await nats?.stop();
}, 60_000);

const one = (name: string): ReceivedSpan => {
  const found = trace.filter((s) => s.name === name);
  expect(found, name).toHaveLength(1);
  return found[0] as ReceivedSpan;
};

describe("a job's trace in process mode", () => {
  it("has every hop, with its span kind, in the process that did it", () => {
    console.log(
      `trace ${TRACE_ID}:\n${trace.map((s) => `  ${s.name} [${String(s.resource["service.name"])}]`).join("\n")}`,
    );
    for (const e of EXPECTED) {
      const span = one(e.name);
      expect(span.kind, e.name).toBe(e.kind);
      expect(span.resource["service.name"], e.name).toBe(e.service);
      expect(span.scope, e.name).toBe("@tessera/bus");
    }
    expect(receiver?.rejected()).toEqual([]);
  });

  it("crosses three processes: the coordinator and a worker process per component", () => {
    const pids = new Map(trace.map((s) => [String(s.resource["service.name"]), s.resource["process.pid"]]));
    expect([...pids.keys()].sort()).toEqual([
      "tessera-coordinator",
      "tessera-worker-chunk-embed",
      "tessera-worker-extract",
    ]);
    expect(new Set(pids.values()).size).toBe(3);
  });

  it("is one tree: each hop the child of the one before, from the caller's span", () => {
    const parentOf = (name: string, parent: string): void =>
      expect(one(name).parentSpanId, `${name} is a child of ${parent}`).toBe(one(parent).spanId);
    expect(one("POST /api/v1/jobs").parentSpanId).toBe(CALLER_SPAN);
    for (let i = 1; i < EXPECTED.length; i++) parentOf(EXPECTED[i]?.name ?? "", EXPECTED[i - 1]?.name ?? "");
  });

  it("links each worker's process span to its job's create span (the envelope's traceparent)", () => {
    for (const component of ["extract", "chunk-embed"]) {
      const process = one(`process tessera.jobs.${component}`);
      const create = one(`create tessera.jobs.${component}`);
      expect(process.links).toEqual([
        { traceId: TRACE_ID, spanId: create.spanId, attributes: { "tessera.link": "created" } },
      ]);
    }
  });

  it("carries the messaging conventions' attributes and the job id", () => {
    const messaging = trace.filter((s) => s.name !== "POST /api/v1/jobs");
    for (const span of messaging) {
      expect(span.attributes["messaging.system"], span.name).toBe("nats");
      expect(span.attributes["messaging.operation.name"], span.name).toBe(span.name.split(" ")[0]);
      expect(typeof span.attributes["tessera.job.id"], span.name).toBe("string");
    }
    const extractJob = (name: string): OtlpValue => one(name).attributes["tessera.job.id"];
    for (const name of EXPECTED.slice(1, 6).map((e) => e.name)) expect(extractJob(name), name).toBe(jobId);
    expect(one("create tessera.jobs.extract").attributes).toMatchObject({
      "messaging.operation.type": "create",
      "messaging.destination.name": "tessera.jobs.extract",
      "messaging.message.id": jobId,
    });
    expect(one("publish tessera.jobs.extract").attributes).toMatchObject({
      "messaging.operation.type": "send",
      "messaging.destination.name": "tessera.jobs.extract",
      "messaging.message.id": jobId,
    });
    expect(one("process tessera.jobs.extract").attributes).toMatchObject({
      "messaging.operation.type": "process",
      "messaging.destination.name": "tessera.jobs.extract",
      "messaging.consumer.group.name": "tessera-worker-extract",
      "tessera.attempt": 1,
      "tessera.outcome": "completed",
    });
    expect(one("publish tessera.results.extract.*").attributes).toMatchObject({
      "messaging.operation.type": "send",
      "messaging.destination.name": `tessera.results.extract.${jobId}`,
      "messaging.destination.template": "tessera.results.extract.*",
      "tessera.result.status": "completed",
    });
    expect(one("process tessera.results.extract.*").attributes).toMatchObject({
      "messaging.operation.type": "process",
      "messaging.destination.name": `tessera.results.extract.${jobId}`,
      "tessera.result.apply": "applied",
    });
    expect(one("POST /api/v1/jobs").attributes).toMatchObject({
      "http.request.method": "POST",
      "http.route": "/api/v1/jobs",
      "url.path": "/api/v1/jobs",
      "http.response.status_code": 201,
    });
  });

  it("puts trace_id and span_id on the log lines written inside a span", async () => {
    // A PNG: extract has no image support, so its worker logs "job failed" inside the job's process span.
    const failing = "0af7651916cd43dd8448eb211c80319c";
    const admin = dev?.dashboardUrl.replace(/\/$/, "") ?? "";
    const res = await fetch(`${admin}/api/v1/jobs`, {
      method: "POST",
      headers: { "content-type": "application/json", traceparent: `00-${failing}-b7ad6b7169203331-01` },
      body: JSON.stringify({
        component: "extract",
        input: { base64: Buffer.from("\x89PNG\r\n\x1a\n").toString("base64") },
        contentType: "image/png",
      }),
    });
    expect(res.status).toBe(201);
    const line = await waitFor(
      "the worker's 'job failed' line with the trace's ids",
      () =>
        (dev?.process.output() ?? "")
          .split("\n")
          .map((l) => /^extract\/\S+ \| (\{.*\})$/.exec(l)?.[1])
          .filter((l): l is string => l !== undefined)
          .map((l) => JSON.parse(l) as Record<string, unknown>)
          .find((l) => l["msg"] === "job failed" && l["trace_id"] === failing),
      60_000,
    );
    const process = await waitFor(
      "the failed job's process span",
      () => receiver?.spans().find((s) => s.traceId === failing && s.name === "process tessera.jobs.extract"),
      30_000,
    );
    expect(line["span_id"]).toBe(process.spanId);
    expect(process.attributes["tessera.outcome"]).toBe("failed");
    expect(process.status?.code).toBe(2);
  });
});

type OtlpValue = ReceivedSpan["attributes"][string];
