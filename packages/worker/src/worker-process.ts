import { connectJetStreamBus, startTracing, traceLogFields, type Bus, type TracingHandle } from "@tessera/bus";
import { HANDLER_LIMITS_ENV, revisionFromEnv, validateHandlerLimits, type HandlerLimits } from "@tessera/contract";
import { pino } from "pino";
import type { ComponentDefinition } from "./define-component.js";
import { inHandlerThread } from "./isolation/thread-marker.js";
import { inertHandle, runWorker, type RunWorkerOptions, type WorkerHandle } from "./run-worker.js";

/**
 * The entry point of a worker process (process mode and Kubernetes). A component file ends with
 * `await runWorkerProcess(definition)`. Configured by the environment:
 *
 * - `NATS_URL` (required): the NATS server(s), comma-separated.
 * - `TESSERA_MODE=kubernetes`: bind the durable consumer the controller created and create nothing
 *   (no streams, consumers or buckets). Otherwise the bus may create shared resources it needs.
 * - `TESSERA_HTTP_PORT` / `TESSERA_HTTP_HOST` (default 127.0.0.1): serve /healthz, /readyz and /metrics;
 *   no server when the port is unset. `0` picks a free port (logged in the "worker started" line).
 * - `TESSERA_INSTANCE_ID`, `TESSERA_DRAIN_GRACE_MS`, `TESSERA_HEARTBEAT_INTERVAL_MS`, `LOG_LEVEL`.
 * - `TESSERA_HANDLER_MAX_HEAP_MIB`, `TESSERA_HANDLER_MAX_OUTPUT_BYTES`: the Component's `handlerLimits`.
 * - `OTEL_*`: with an OTLP endpoint (or `OTEL_TRACES_EXPORTER`) set, traces are exported over OTLP/HTTP
 *   (docs/observability.md); without, no SDK is loaded.
 *
 * SIGTERM or SIGINT drains (see WorkerHandle.stop), closes the bus and exits 0; a second signal exits 1 at
 * once. A fatal error (bad configuration, no connection, an uncaught exception) logs one `fatal` line and
 * exits 1.
 *
 * In a handler thread (the component's module imported again there for its handler) it does nothing.
 */
export async function runWorkerProcess(
  definition: ComponentDefinition,
  opts: Partial<Omit<RunWorkerOptions, "bus">> = {},
): Promise<WorkerHandle> {
  if (inHandlerThread()) return inertHandle();
  const env = process.env;
  const log = opts.logger ?? pino({ level: env["LOG_LEVEL"] ?? "info", mixin: traceLogFields });
  const fatal = (message: string, err?: unknown): never => {
    log.fatal(
      { component: definition.name, ...(err !== undefined ? { err } : {}) },
      `worker ${definition.name}: ${message}`,
    );
    process.exit(1);
  };
  process.on("uncaughtException", (err) => fatal("uncaught exception", err));
  process.on("unhandledRejection", (err) => fatal("unhandled promise rejection", err));

  const servers = env["NATS_URL"];
  if (servers === undefined || servers.trim() === "") {
    return fatal(
      "NATS_URL is not set. A worker process needs a NATS server with JetStream (e.g. NATS_URL=nats://127.0.0.1:4222); to run without one, use embedded mode (runWorker with createInProcessBus)",
    );
  }
  const kubernetes = env["TESSERA_MODE"] === "kubernetes";
  const fromEnv = {
    ...(env["TESSERA_HTTP_PORT"] !== undefined && env["TESSERA_HTTP_PORT"] !== ""
      ? {
          http: {
            host: env["TESSERA_HTTP_HOST"] || "127.0.0.1",
            port: intFromEnv("TESSERA_HTTP_PORT", 0, 65_535, fatal),
          },
        }
      : {}),
    ...(env["TESSERA_INSTANCE_ID"] ? { instanceId: env["TESSERA_INSTANCE_ID"] } : {}),
    ...(env["TESSERA_DRAIN_GRACE_MS"]
      ? { drainGraceMs: intFromEnv("TESSERA_DRAIN_GRACE_MS", 0, 24 * 3_600_000, fatal) }
      : {}),
    ...(env["TESSERA_HEARTBEAT_INTERVAL_MS"]
      ? { heartbeatIntervalMs: intFromEnv("TESSERA_HEARTBEAT_INTERVAL_MS", 1, 3_600_000, fatal) }
      : {}),
    handlerLimits: handlerLimitsFromEnv(fatal),
    // The controller sets TESSERA_REVISION=canary on a canary's pods only.
    revision: revisionFromEnv(env),
  };

  let tracing: TracingHandle | undefined;
  try {
    tracing = await startTracing({
      serviceName: `tessera-worker-${definition.name}`,
      attributes: {
        "tessera.component": definition.name,
        ...(fromEnv.instanceId !== undefined ? { "service.instance.id": fromEnv.instanceId } : {}),
      },
    });
  } catch (err) {
    return fatal("cannot set up tracing", err);
  }

  let bus: Bus;
  try {
    bus = await connectJetStreamBus({
      servers: servers.split(",").map((s) => s.trim()),
      name: `tessera-worker-${definition.name}`,
      provision: !kubernetes,
      onConsumerRepair: ({ error, ...repair }) => {
        if (error !== undefined)
          log.error(
            { ...repair, err: error },
            "job consumer after a NATS server restart: could not check or repair it; jobs may not be delivered until it is",
          );
        else if (repair.recreated)
          log.warn(
            repair,
            "job consumer after a NATS server restart: recreated it (the stream's sequence had gone back, nats-server 2.9 lost its state)",
          );
        else
          log.info(
            repair,
            "job consumer after a NATS server restart: acked the sequences it may hold that are no longer in the stream (stale after a crash)",
          );
      },
    });
  } catch (err) {
    return fatal(`cannot connect to NATS at ${servers}`, err);
  }
  let worker: WorkerHandle;
  try {
    worker = await runWorker(definition, {
      ...fromEnv,
      ...opts,
      bus,
      bindOnly: opts.bindOnly ?? kubernetes,
      logger: log,
    });
  } catch (err) {
    return fatal("could not start", err);
  }
  log.info(
    {
      component: definition.name,
      instanceId: worker.instanceId,
      httpPort: worker.httpPort,
      mode: kubernetes ? "kubernetes" : "process",
      traces: tracing?.exporters ?? "off",
    },
    "worker started",
  );

  let signalled = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (signalled) {
      log.warn({ signal }, "second signal while draining; exiting now");
      process.exit(1);
    }
    signalled = true;
    log.info({ signal }, "draining before exit");
    worker
      .stop()
      .then(() => bus.close())
      .then(() => tracing?.shutdown())
      .then(
        () => process.exit(0),
        (err: unknown) => fatal("draining failed", err),
      );
  };
  process.on("SIGTERM", onSignal);
  process.on("SIGINT", onSignal);
  return worker;
}

/** The Component's handlerLimits as the controller and `tessera dev` pass them, checked by the contract's schema. */
function handlerLimitsFromEnv(fatal: (message: string) => never): HandlerLimits {
  const limits: HandlerLimits = {};
  for (const [field, name] of Object.entries(HANDLER_LIMITS_ENV)) {
    const raw = process.env[name];
    if (raw === undefined || raw === "") continue;
    const checked = validateHandlerLimits({ [field]: /^\d+$/.test(raw.trim()) ? Number(raw) : raw });
    if (!checked.ok) return fatal(`${name}=${JSON.stringify(raw)}: ${checked.error.message}`);
    Object.assign(limits, checked.value);
  }
  return limits;
}

function intFromEnv(name: string, min: number, max: number, fatal: (message: string) => never): number {
  const raw = process.env[name] ?? "";
  const n = Number(raw);
  if (!/^\d+$/.test(raw.trim()) || n < min || n > max)
    return fatal(`${name}=${JSON.stringify(raw)}: expected an integer from ${min} to ${max}`);
  return n;
}
