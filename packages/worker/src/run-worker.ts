import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import { BusNotProvisionedError, traceLogFields, type Bus, type JobDelivery, type Subscription } from "@tessera/bus";
import { ComponentDefaults, HEARTBEAT_INTERVAL_MS, type HandlerLimits, type Revision } from "@tessera/contract";
import { pino, type Logger } from "pino";
import { Registry } from "prom-client";
import { Isolation, type ComponentDefinition } from "./define-component.js";
import { startHealthServer, type HealthServer, type Readiness } from "./health-server.js";
import { startHeartbeats } from "./heartbeat.js";
import type { HandlerExecutor } from "./handler-outcome.js";
import { inlineExecutor } from "./inline-executor.js";
import { threadExecutor } from "./isolation/thread-executor.js";
import { inHandlerThread } from "./isolation/thread-marker.js";
import { JobRunner } from "./job-runner.js";
import { WorkerMetrics } from "./metrics.js";

export interface RunWorkerOptions {
  bus: Bus;
  /** Unique per running instance; reported in heartbeats and Results. Default `<hostname>-<pid>-<random>`. */
  instanceId?: string;
  /** Reported in heartbeats; defaults to the definition's version. */
  version?: string;
  /** Default HEARTBEAT_INTERVAL_MS (5 s). */
  heartbeatIntervalMs?: number;
  /** Serve /healthz, /readyz and /metrics on this address (port 0: an ephemeral port). Omitted: no server. */
  http?: { host: string; port: number };
  /** How long stop() waits for running jobs before aborting and nak'ing them. Default 30 s. */
  drainGraceMs?: number;
  /** The Component's `handlerLimits` (heap and output size per job); defaults in docs/contract.md. */
  handlerLimits?: HandlerLimits;
  /** Which of the component's Deployments this is (a canary's pods say so); labels the job metrics. Default stable. */
  revision?: Revision;
  /** Kubernetes mode: only bind the durable consumer the controller created; never create anything. */
  bindOnly?: boolean;
  /** Default: pino at LOG_LEVEL (info), to stdout. */
  logger?: Logger;
}

export interface WorkerHandle {
  readonly instanceId: string;
  /** Connected, consumer bound and not draining (what /readyz reports). */
  readonly ready: boolean;
  /** Handlers running now. */
  readonly inFlight: number;
  /** The HTTP server's bound port, when `http` was given. */
  readonly httpPort: number | undefined;
  /** This runtime's Prometheus registry (what /metrics serves). */
  readonly metrics: Registry;
  /**
   * Drains: readiness off, stop pulling, let running jobs finish within `drainGraceMs`, then abort and nak
   * the rest; stops heartbeats and the HTTP server. Idempotent. Does not close the bus (it is the caller's).
   */
  stop(): Promise<void>;
}

const BIND_RETRY_BASE_MS = 100;
const BIND_RETRY_MAX_MS = 5_000;
/** After the grace period, how long aborted jobs get to publish their nak before stop() gives up on them. */
const ABORT_SETTLE_MS = 5_000;

/**
 * Runs a component's worker on `bus` until `stop()`. Resolves once started, after the first attempt to bind
 * the consumer: if that failed (not provisioned yet, bus down) the handle is not ready and binding is
 * retried with backoff in the background. With isolation "thread" (the default) it also waits for a first
 * handler thread to load the component's module; if that fails, the worker is stopped and this rejects
 * with why.
 *
 * In a handler thread, where the component's module is imported only for its handler, it starts nothing
 * and returns an inert handle.
 */
export async function runWorker(definition: ComponentDefinition, opts: RunWorkerOptions): Promise<WorkerHandle> {
  if (inHandlerThread()) return inertHandle();
  const { bus } = opts;
  const instanceId = opts.instanceId ?? `${hostname()}-${process.pid}-${randomBytes(3).toString("hex")}`.slice(-253);
  const heartbeatIntervalMs = opts.heartbeatIntervalMs ?? HEARTBEAT_INTERVAL_MS;
  const drainGraceMs = opts.drainGraceMs ?? 30_000;
  if (instanceId.length === 0 || instanceId.length > 253)
    throw new RangeError(`runWorker: instanceId: expected 1-253 characters, got ${instanceId.length}`);
  if (!Number.isInteger(heartbeatIntervalMs) || heartbeatIntervalMs < 1)
    throw new RangeError(`runWorker: heartbeatIntervalMs: expected an integer >= 1, got ${heartbeatIntervalMs}`);
  if (!(drainGraceMs >= 0))
    throw new RangeError(`runWorker: drainGraceMs: expected a number >= 0, got ${drainGraceMs}`);
  const log = (opts.logger ?? pino({ level: process.env["LOG_LEVEL"] ?? "info", mixin: traceLogFields })).child({
    component: definition.name,
    instanceId,
  });
  const metrics = new WorkerMetrics(definition.name, opts.revision ?? "stable");
  const maxOutputBytes = opts.handlerLimits?.maxOutputBytes ?? ComponentDefaults.maxOutputBytes;
  let executor: HandlerExecutor;
  let warming = Promise.resolve();
  if (definition.isolation === Isolation.None) {
    executor = inlineExecutor(definition.handle, bus.payloads, maxOutputBytes);
  } else {
    if (definition.module === undefined)
      throw new TypeError(
        `runWorker: component ${definition.name}: no module for its handler threads (made by another copy of @tessera/worker?); define it with this one's defineComponent`,
      );
    const threads = threadExecutor({
      definition,
      module: definition.module,
      payloads: bus.payloads,
      limits: opts.handlerLimits,
      maxOutputBytes,
      log,
    });
    // Loaded while the consumer binds; a job delivered meanwhile waits for this thread.
    warming = threads.warm();
    warming.catch(() => undefined);
    executor = threads;
  }
  const runner = new JobRunner({ definition, bus, executor, maxOutputBytes, instanceId, metrics, log });

  let subscription: Subscription | undefined;
  let notBoundBecause = "the job consumer is not bound yet";
  let draining = false;
  let bindTimer: NodeJS.Timeout | undefined;
  const running = new Set<Promise<void>>();
  let onIdle: (() => void) | undefined;

  const readiness = (): Readiness => {
    if (draining) return { ready: false, reason: "draining: the worker is shutting down" };
    if (!bus.isConnected()) return { ready: false, reason: "the bus is not connected" };
    if (subscription === undefined) return { ready: false, reason: notBoundBecause };
    return { ready: true, reason: "consuming" };
  };

  const onDelivery = (delivery: JobDelivery): Promise<void> => {
    if (draining) {
      // Handed out after stop() began: give it straight back so another instance runs it.
      delivery.nak(0);
      return Promise.resolve();
    }
    const task = runner.run(delivery);
    running.add(task);
    void task.finally(() => {
      running.delete(task);
      if (running.size === 0) onIdle?.();
    });
    return task;
  };

  const bind = async (attempt: number): Promise<void> => {
    bindTimer = undefined;
    if (draining) return;
    let sub: Subscription;
    try {
      sub = await bus.consumeJobs(
        definition.name,
        { maxInFlight: definition.concurrency, bindOnly: opts.bindOnly ?? false },
        onDelivery,
      );
    } catch (err) {
      notBoundBecause =
        err instanceof BusNotProvisionedError
          ? `not provisioned: ${err.message}`
          : `cannot bind the job consumer: ${err instanceof Error ? err.message : String(err)}`;
      const delay = Math.min(BIND_RETRY_MAX_MS, BIND_RETRY_BASE_MS * 2 ** Math.min(attempt, 16));
      // Loud on the first failure, then quieter: a worker waiting for provisioning is normal for a while.
      log[attempt === 0 ? "warn" : "debug"]({ err, retryInMs: delay }, `not ready: ${notBoundBecause}; retrying`);
      if (!draining) bindTimer = setTimeout(() => void bind(attempt + 1), delay);
      return;
    }
    if (draining) {
      await sub.stop();
      return;
    }
    subscription = sub;
    log.info({ concurrency: definition.concurrency }, "job consumer bound; ready");
    void sub.closed.then(() => {
      if (subscription !== sub || draining) return;
      // The bus ended the subscription (closed, consumer deleted): not ready until bound again.
      subscription = undefined;
      notBoundBecause = "the job subscription ended; rebinding";
      log.warn(notBoundBecause);
      bindTimer = setTimeout(() => void bind(1), BIND_RETRY_BASE_MS);
    });
  };

  let http: HealthServer | undefined;
  if (opts.http !== undefined) http = await startHealthServer({ ...opts.http, readiness, registry: metrics.registry });
  await bind(0);
  const heartbeats = startHeartbeats({
    bus,
    log,
    intervalMs: heartbeatIntervalMs,
    beat: () => ({
      component: definition.name,
      instance_id: instanceId,
      version: opts.version ?? definition.version,
      in_flight: runner.inFlight,
      concurrency: definition.concurrency,
    }),
  });

  const waitIdle = (ms: number): Promise<boolean> => {
    if (running.size === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        onIdle = undefined;
        resolve(false);
      }, ms);
      onIdle = () => {
        clearTimeout(timer);
        onIdle = undefined;
        resolve(true);
      };
    });
  };

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopping ??= (async () => {
      draining = true;
      if (bindTimer !== undefined) clearTimeout(bindTimer);
      const sub = subscription;
      subscription = undefined;
      log.info({ inFlight: running.size, graceMs: drainGraceMs }, "draining: no new jobs; waiting for running ones");
      try {
        await sub?.stop();
      } catch (err) {
        log.warn({ err }, "stopping the job subscription failed; draining anyway");
      }
      if (!(await waitIdle(drainGraceMs))) {
        log.warn(
          { inFlight: running.size },
          "drain grace period over: aborting running jobs; they go back to the queue",
        );
        runner.interruptAll();
        if (!(await waitIdle(ABORT_SETTLE_MS)))
          log.error(
            { inFlight: running.size },
            "some deliveries did not settle after being aborted; the ack wait will redeliver them",
          );
      }
      heartbeats.stop();
      await executor.close();
      await http?.close();
      log.info("worker stopped");
    })());

  try {
    await warming;
  } catch (err) {
    await stop();
    throw err;
  }

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

/** What runWorker returns in a handler thread: never ready, nothing to stop. */
export function inertHandle(): WorkerHandle {
  return {
    instanceId: "handler-thread",
    ready: false,
    inFlight: 0,
    httpPort: undefined,
    metrics: new Registry(),
    stop: () => Promise.resolve(),
  };
}
