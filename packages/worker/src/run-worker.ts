import { hostname } from "node:os";
import { randomBytes } from "node:crypto";
import { BusNotProvisionedError, type Bus, type Subscription } from "@tessera/bus";
import { HEARTBEAT_INTERVAL_MS, SCHEMA_VERSION } from "@tessera/contract";
import { pino, type Logger } from "pino";
import type { Registry } from "prom-client";
import type { ComponentDefinition } from "./define-component.js";
import { startHealthServer, type Readiness } from "./health-server.js";
import { JobRunner } from "./job-runner.js";
import { WorkerMetrics } from "./metrics.js";

export interface RunWorkerOptions {
  bus: Bus;
  instanceId?: string;
  /** Reported in heartbeats; defaults to the definition's version. */
  version?: string;
  heartbeatIntervalMs?: number;
  /** Serve /healthz, /readyz and /metrics. Port 0 picks a free port. */
  http?: { host: string; port: number };
  /** How long stop() waits for running jobs before aborting and nak'ing them. Default 30 s. */
  drainGraceMs?: number;
  /** Kubernetes mode: bind the pre-created durable consumer, never create it. */
  bindOnly?: boolean;
  logger?: Logger;
}

export interface WorkerHandle {
  readonly instanceId: string;
  readonly ready: boolean;
  readonly inFlight: number;
  readonly httpPort: number | undefined;
  readonly metrics: Registry;
  /** Drain: stop pulling, let running jobs finish within the grace period, then abort and nak the rest. */
  stop(): Promise<void>;
}

const BIND_RETRY_MAX_MS = 5_000;

/** Runs a component's worker on a bus until stop(). Resolves once it has started (not necessarily bound). */
export async function runWorker(definition: ComponentDefinition, opts: RunWorkerOptions): Promise<WorkerHandle> {
  const { bus } = opts;
  const instanceId = opts.instanceId ?? `${hostname()}-${process.pid}-${randomBytes(3).toString("hex")}`;
  const log = (opts.logger ?? pino({ level: process.env["LOG_LEVEL"] ?? "warn" })).child({ component: definition.name, instanceId });
  const metrics = new WorkerMetrics(definition.name);
  const runner = new JobRunner(definition, bus, instanceId, metrics, log);
  let subscription: Subscription | undefined;
  let bindError = "consumer not bound yet";
  let draining = false;
  let bindTimer: NodeJS.Timeout | undefined;
  const running = new Set<Promise<void>>();
  const idleWaiters: Array<() => void> = [];

  const readiness = (): Readiness => {
    if (draining) return { ready: false, reason: "draining" };
    if (!bus.isConnected()) return { ready: false, reason: "bus disconnected" };
    if (subscription === undefined) return { ready: false, reason: bindError };
    return { ready: true, reason: "consuming" };
  };

  const onDelivery = (delivery: Parameters<Parameters<Bus["consumeJobs"]>[2]>[0]): Promise<void> => {
    const task = runner.run(delivery).catch((err: unknown) => {
      // run() settles every delivery itself; reaching here is a bug, so make it loud and keep the job alive.
      log.error({ err }, "unexpected error while running a job; it will be redelivered");
      delivery.nak(0);
    });
    running.add(task);
    void task.finally(() => {
      running.delete(task);
      if (running.size === 0) idleWaiters.splice(0).forEach((w) => w());
    });
    return task;
  };

  const bind = async (attempt: number): Promise<void> => {
    if (draining) return;
    try {
      subscription = await bus.consumeJobs(definition.name, { maxInFlight: definition.concurrency, bindOnly: opts.bindOnly ?? false }, onDelivery);
      log.info("consumer bound; consuming jobs");
    } catch (err) {
      bindError = err instanceof BusNotProvisionedError ? err.message : `cannot bind the consumer: ${(err as Error).message}`;
      const delay = Math.min(BIND_RETRY_MAX_MS, 100 * 2 ** attempt);
      log.warn({ err, retryInMs: delay }, "not ready: cannot bind the component's consumer yet");
      bindTimer = setTimeout(() => void bind(attempt + 1), delay);
    }
  };

  const beat = (): void => {
    bus
      .publishHeartbeat({
        schema_version: SCHEMA_VERSION,
        component: definition.name,
        instance_id: instanceId,
        version: opts.version ?? definition.version,
        sent_at: new Date().toISOString(),
        in_flight: runner.inFlight,
        concurrency: definition.concurrency,
        interval_ms: heartbeatIntervalMs,
      })
      .catch((err: unknown) => log.warn({ err }, "heartbeat not sent"));
  };
  const heartbeatIntervalMs = opts.heartbeatIntervalMs ?? HEARTBEAT_INTERVAL_MS;

  await bind(0);
  beat();
  const heartbeat = setInterval(beat, heartbeatIntervalMs);
  const http = opts.http !== undefined ? await startHealthServer({ ...opts.http, readiness, registry: metrics.registry }) : undefined;

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopping ??= (async () => {
      draining = true;
      clearTimeout(bindTimer);
      await subscription?.stop();
      if (running.size > 0) {
        const graceMs = opts.drainGraceMs ?? 30_000;
        log.info({ inFlight: running.size, graceMs }, "draining: waiting for running jobs");
        let timer: NodeJS.Timeout | undefined;
        const idle = new Promise<void>((resolve) => idleWaiters.push(resolve));
        const grace = new Promise<"grace">((resolve) => (timer = setTimeout(() => resolve("grace"), graceMs)));
        if ((await Promise.race([idle, grace])) === "grace") {
          log.warn({ inFlight: running.size }, "grace period over: aborting running jobs; they will be redelivered");
          runner.interruptAll();
          await idle;
        }
        clearTimeout(timer);
      }
      clearInterval(heartbeat);
      beat();
      await http?.close();
    })());

  return {
    instanceId,
    get ready() {
      return readiness().ready;
    },
    get inFlight() {
      return runner.inFlight;
    },
    httpPort: http?.port,
    metrics: metrics.registry,
    stop,
  };
}
