import { connectJetStreamBus } from "@tessera/bus";
import { pino } from "pino";
import type { ComponentDefinition } from "./define-component.js";
import { runWorker, type RunWorkerOptions } from "./run-worker.js";

/**
 * The entry point of a worker process (process mode and Kubernetes): connects to NATS_URL, serves probes on
 * TESSERA_HTTP_HOST:TESSERA_HTTP_PORT, drains on SIGTERM/SIGINT and exits 0; exits 1 on a fatal error.
 * In Kubernetes mode (TESSERA_MODE=kubernetes) it only binds the consumer the controller created.
 */
export async function runWorkerProcess(definition: ComponentDefinition, overrides: Partial<Omit<RunWorkerOptions, "bus">> = {}): Promise<void> {
  const log = overrides.logger ?? pino({ level: process.env["LOG_LEVEL"] ?? "info" });
  const env = process.env;
  const servers = env["NATS_URL"];
  if (servers === undefined || servers === "") {
    log.fatal("NATS_URL is not set: a worker process needs a NATS server (e.g. NATS_URL=nats://127.0.0.1:4222); for one process use the embedded mode instead");
    process.exit(1);
  }
  const kubernetes = env["TESSERA_MODE"] === "kubernetes";
  try {
    const bus = await connectJetStreamBus({ servers, name: `${definition.name}-worker`, provision: !kubernetes });
    const port = env["TESSERA_HTTP_PORT"];
    const worker = await runWorker(definition, {
      bus,
      bindOnly: kubernetes,
      logger: log,
      ...(env["TESSERA_INSTANCE_ID"] !== undefined ? { instanceId: env["TESSERA_INSTANCE_ID"] } : {}),
      ...(port !== undefined ? { http: { host: env["TESSERA_HTTP_HOST"] ?? "127.0.0.1", port: Number(port) } } : {}),
      ...(env["TESSERA_DRAIN_GRACE_MS"] !== undefined ? { drainGraceMs: Number(env["TESSERA_DRAIN_GRACE_MS"]) } : {}),
      ...overrides,
    });
    log.info({ instanceId: worker.instanceId, httpPort: worker.httpPort }, "worker started");
    const shutdown = (signal: string): void => {
      log.info({ signal }, "draining");
      void worker
        .stop()
        .then(() => bus.close())
        .then(() => process.exit(0));
    };
    process.once("SIGTERM", () => shutdown("SIGTERM"));
    process.once("SIGINT", () => shutdown("SIGINT"));
  } catch (err) {
    log.fatal({ err }, `worker ${definition.name} could not start`);
    process.exit(1);
  }
}
