import { context, propagation, trace } from "@opentelemetry/api";
import { BatchSpanProcessor, type ReadableSpan, type SpanExporter } from "@opentelemetry/sdk-trace-base";
import { NodeTracerProvider } from "@opentelemetry/sdk-trace-node";
import {
  activeContext,
  contextFromTraceparent,
  extractTrace,
  hasSpan,
  injectTrace,
  isRecording,
  jobSpan,
  parseTraceparent,
  resultSpan,
  setActiveAttributes,
  SpanKind,
  startMessagingSpan,
  traceHeadersFrom,
  withSpan,
} from "@tessera/bus";
import type { SubmitInput } from "@tessera/coordinator";
import type { BenchEnv } from "./bench-env.js";
import { submitAndDrain } from "./drive-coordinator.js";
import { round } from "./stats.js";
import { tesseraEmbedded } from "./tessera-modes.js";
import type { ThroughputResult } from "./throughput.js";

export type TracingMode = "off" | "on";

/** One pass of the tracing comparison: embedded, memory store, no-op handler; `on` with an SDK registered. */
export interface TracingRow extends ThroughputResult {
  mode: TracingMode;
  pass: number;
  /** Spans the SDK handed to its exporter during the pass (`on` only). */
  spans?: number;
}

export interface TracingReport {
  rows: TracingRow[];
  /**
   * The tracing calls one untraced job makes (every hop's span start and end, context switches, header
   * inject and extract, all the API's no-ops), timed alone in a loop: nanoseconds per job.
   */
  noopNsPerJob: number;
  /** Medians over the passes: on ÷ off (throughput, CPU per job), and the no-op calls as a share of an off job's CPU. */
  ratio?: { onVsOff: { jobsPerSecond: number; cpuUsPerJob?: number }; offNoopShareOfCpu?: number };
}

/** Receives every batch and drops it: what the SDK costs without an exporter's encoding and network. */
class DiscardingExporter implements SpanExporter {
  count = 0;
  export(spans: ReadableSpan[], done: (result: { code: 0 }) => void): void {
    this.count += spans.length;
    done({ code: 0 });
  }
  shutdown(): Promise<void> {
    return Promise.resolve();
  }
}

/**
 * What tracing costs: the embedded coordinator (memory store) and an in-thread worker with a no-op handler,
 * draining `jobs`, with no SDK (`off`, the default when no OTEL_* variable is set) for `passes`, then with the
 * SDK registered and a batch processor whose exporter discards (`on`) for as many. The off path's own cost is
 * also measured directly: the API's no-op calls a job makes, timed in a loop, against the CPU an off job takes.
 */
export async function tracingCost(
  env: BenchEnv,
  input: () => SubmitInput,
  opts: { jobs: number; passes: number; warmupJobs: number },
): Promise<TracingReport> {
  // First, before any SDK is registered: the API's tracers hold on to the first real tracer they get (a
  // ProxyTracer caches its delegate), so once `on` has run, nothing in this process is untraced again. Hence
  // also every `off` pass before the first `on` pass, rather than alternating them.
  const noopNsPerJob = noopCallsPerJob();
  const rows: TracingRow[] = [];
  for (const mode of ["off", "on"] as const) {
    const exporter = new DiscardingExporter();
    const provider =
      mode === "on" ? new NodeTracerProvider({ spanProcessors: [new BatchSpanProcessor(exporter)] }) : undefined;
    provider?.register();
    try {
      for (let pass = 1; pass <= opts.passes; pass++) {
        const s = await tesseraEmbedded(env, { store: "memory" });
        try {
          if (opts.warmupJobs > 0) await submitAndDrain(env, s, opts.warmupJobs, input);
          await provider?.forceFlush();
          const before = exporter.count;
          const r = await submitAndDrain(env, s, opts.jobs, input);
          await provider?.forceFlush();
          rows.push({ mode, pass, ...r, ...(mode === "on" ? { spans: exporter.count - before } : {}) });
        } finally {
          await s.close();
        }
      }
    } finally {
      if (provider !== undefined) {
        await provider.shutdown();
        trace.disable();
        context.disable();
        propagation.disable();
      }
    }
  }
  return { rows, noopNsPerJob, ...ratioOf(rows, noopNsPerJob) };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

function ratioOf(rows: TracingRow[], noopNs: number): Pick<TracingReport, "ratio"> {
  const of = (mode: TracingMode): TracingRow[] => rows.filter((r) => r.mode === mode);
  const off = of("off");
  const on = of("on");
  if (off.length === 0 || on.length === 0) return {};
  const rate = (rs: TracingRow[]): number => median(rs.map((r) => r.jobsPerSecond));
  const cpus = (rs: TracingRow[]): number[] =>
    rs.map((r) => r.cpuUsPerJob?.main).filter((c): c is number => c !== undefined);
  const offCpu = cpus(off);
  const onCpu = cpus(on);
  const cpuRatio = offCpu.length > 0 && onCpu.length > 0 ? round(median(onCpu) / median(offCpu)) : undefined;
  return {
    ratio: {
      onVsOff: {
        jobsPerSecond: round(rate(on) / rate(off)),
        ...(cpuRatio !== undefined ? { cpuUsPerJob: cpuRatio } : {}),
      },
      ...(offCpu.length > 0 ? { offNoopShareOfCpu: round(noopNs / (median(offCpu) * 1000), 5) } : {}),
    },
  };
}

/**
 * The tracing calls of one untraced job, in the order its hops make them (job-spans.ts in the coordinator,
 * job-span.ts and the Result publish in the worker, the bus's header inject and read), with no SDK
 * registered: CPU nanoseconds per job, over enough iterations to be past the timer's resolution.
 */
function noopCallsPerJob(iterations = 200_000): number {
  const component = "bench-tracing";
  const none = (): string | undefined => undefined;
  const job = (): void => {
    // submit: create span
    const active = activeContext();
    const parent = hasSpan(active) ? active : contextFromTraceparent(undefined);
    const create = startMessagingSpan(SpanKind.PRODUCER, jobSpan("create", component), parent);
    withSpan(create, () => create.isRecording(), parent);
    create.end();
    // relay: publish span, headers injected by the bus
    const relayParent = contextFromTraceparent(undefined);
    const send = startMessagingSpan(SpanKind.PRODUCER, jobSpan("send", component), relayParent);
    withSpan(send, () => injectTrace(), relayParent);
    send.end();
    // worker: headers read, process span, outcome, Result publish
    let workerParent = extractTrace(traceHeadersFrom(none));
    if (!hasSpan(workerParent)) workerParent = contextFromTraceparent(undefined);
    parseTraceparent(undefined);
    const processSpan = startMessagingSpan(SpanKind.CONSUMER, jobSpan("process", component), workerParent);
    withSpan(
      processSpan,
      () => {
        setActiveAttributes({ "tessera.outcome": "completed" });
        if (!isRecording(activeContext())) injectTrace();
      },
      workerParent,
    );
    processSpan.end();
    // coordinator: Result headers read, apply span
    const applyParent = extractTrace(traceHeadersFrom(none));
    const apply = startMessagingSpan(SpanKind.CONSUMER, resultSpan("process", component), applyParent);
    withSpan(apply, () => apply.isRecording(), applyParent);
    apply.end();
  };
  for (let i = 0; i < 10_000; i++) job();
  // CPU time, not wall time: on a shared machine the wall clock also counts other processes' turns.
  const before = process.cpuUsage();
  for (let i = 0; i < iterations; i++) job();
  const used = process.cpuUsage(before);
  return round(((used.user + used.system) * 1000) / iterations, 1);
}
