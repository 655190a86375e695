/**
 * The OpenTelemetry SDK, set up once per process by its entry point (`tessera dev`, a worker process), and
 * only when the standard `OTEL_*` variables ask for traces: then the SDK's modules are imported, not before,
 * so a process that does not trace never loads them. A monolith that embeds the coordinator sets up its own
 * SDK (or none): the packages use the API only.
 */

export type TracingEnv = Readonly<Record<string, string | undefined>>;

export type TraceExporterKind = "otlp-http-protobuf" | "otlp-http-json" | "console";

export type TracingConfig =
  { enabled: false; why: string } | { enabled: true; exporters: TraceExporterKind[]; serviceName: string | undefined };

/** Thrown for a setting the SDK here cannot honour (OTLP over gRPC, an unknown exporter). */
export class TracingConfigError extends Error {
  override readonly name = "TracingConfigError";
}

const set = (v: string | undefined): v is string => v !== undefined && v.trim() !== "";

/**
 * What the `OTEL_*` variables ask for (pure, so it is tested without an SDK). Traces are on when an OTLP
 * endpoint is set (`OTEL_EXPORTER_OTLP_ENDPOINT`, `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) or
 * `OTEL_TRACES_EXPORTER` names an exporter; `OTEL_SDK_DISABLED=true` or `OTEL_TRACES_EXPORTER=none` turns
 * them off. OTLP goes over HTTP: `http/protobuf` (the specification's default) or `http/json`, from
 * `OTEL_EXPORTER_OTLP_TRACES_PROTOCOL` or `OTEL_EXPORTER_OTLP_PROTOCOL`.
 */
export function tracingConfig(env: TracingEnv): TracingConfig {
  if (env["OTEL_SDK_DISABLED"]?.trim().toLowerCase() === "true")
    return { enabled: false, why: "OTEL_SDK_DISABLED=true" };
  const names = (env["OTEL_TRACES_EXPORTER"] ?? "")
    .split(",")
    .map((s) => s.trim().toLowerCase())
    .filter((s) => s !== "");
  const endpoint = set(env["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"]) || set(env["OTEL_EXPORTER_OTLP_ENDPOINT"]);
  if (names.includes("none")) return { enabled: false, why: "OTEL_TRACES_EXPORTER=none" };
  if (names.length === 0 && !endpoint)
    return {
      enabled: false,
      why: "no OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_EXPORTER_OTLP_TRACES_ENDPOINT or OTEL_TRACES_EXPORTER",
    };
  const exporters: TraceExporterKind[] = [];
  for (const name of names.length === 0 ? ["otlp"] : names) {
    if (name === "console") exporters.push("console");
    else if (name === "otlp") exporters.push(otlpKind(env));
    else
      throw new TracingConfigError(
        `OTEL_TRACES_EXPORTER=${env["OTEL_TRACES_EXPORTER"] ?? ""}: expected otlp, console or none (got ${JSON.stringify(name)})`,
      );
  }
  const serviceName = set(env["OTEL_SERVICE_NAME"]) ? env["OTEL_SERVICE_NAME"].trim() : undefined;
  return { enabled: true, exporters: [...new Set(exporters)], serviceName };
}

function otlpKind(env: TracingEnv): TraceExporterKind {
  const variable = set(env["OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"])
    ? "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"
    : "OTEL_EXPORTER_OTLP_PROTOCOL";
  const protocol = (env[variable] ?? "").trim() || "http/protobuf";
  if (protocol === "http/protobuf") return "otlp-http-protobuf";
  if (protocol === "http/json") return "otlp-http-json";
  throw new TracingConfigError(
    `${variable}=${protocol}: Tessera exports OTLP over HTTP only; use http/protobuf or http/json (a collector listens for both on port 4318)`,
  );
}

export interface TracingHandle {
  /** The exporters in use, for the process's start-up log line. */
  readonly exporters: readonly TraceExporterKind[];
  /** Exports what is buffered and stops; call before the process exits. */
  shutdown(): Promise<void>;
}

export interface StartTracingOptions {
  /** `service.name` unless `OTEL_SERVICE_NAME` (or `OTEL_RESOURCE_ATTRIBUTES`) says otherwise. */
  serviceName: string;
  /** More resource attributes (the instance id, the component); `OTEL_RESOURCE_ATTRIBUTES` wins. */
  attributes?: Readonly<Record<string, string>>;
  env?: TracingEnv;
}

/**
 * Registers the SDK globally (tracer provider, W3C trace-context and baggage propagators, the async-hooks
 * context manager) with a batch span processor per exporter, when `tracingConfig` says so; undefined
 * otherwise. Throws TracingConfigError for a setting it cannot honour.
 */
export async function startTracing(opts: StartTracingOptions): Promise<TracingHandle | undefined> {
  const config = tracingConfig(opts.env ?? process.env);
  if (!config.enabled) return undefined;
  const [{ NodeTracerProvider }, { BatchSpanProcessor, ConsoleSpanExporter }, resources] = await Promise.all([
    import("@opentelemetry/sdk-trace-node"),
    import("@opentelemetry/sdk-trace-base"),
    import("@opentelemetry/resources"),
  ]);
  const processors = await Promise.all(
    config.exporters.map(async (kind) => {
      if (kind === "console") return new BatchSpanProcessor(new ConsoleSpanExporter());
      // Each reads its endpoint, headers, timeout and compression from the OTEL_EXPORTER_OTLP_* variables.
      const { OTLPTraceExporter } =
        kind === "otlp-http-json"
          ? await import("@opentelemetry/exporter-trace-otlp-http")
          : await import("@opentelemetry/exporter-trace-otlp-proto");
      return new BatchSpanProcessor(new OTLPTraceExporter());
    }),
  );
  const resource = resources
    .defaultResource()
    .merge(
      resources.resourceFromAttributes({
        "service.name": config.serviceName ?? opts.serviceName,
        "process.pid": process.pid,
        ...opts.attributes,
      }),
    )
    .merge(resources.detectResources({ detectors: [resources.envDetector] }));
  const provider = new NodeTracerProvider({ resource, spanProcessors: processors });
  provider.register();
  let stopping: Promise<void> | undefined;
  return {
    exporters: config.exporters,
    shutdown: () => (stopping ??= provider.shutdown().catch(() => undefined)),
  };
}
