import { pathToFileURL } from "node:url";
import {
  connectJetStreamBus,
  createInProcessBus,
  startLocalNatsServer,
  type Bus,
  type LocalNatsServer,
} from "@tessera/bus";
import {
  ComponentDefaults,
  ENVIRONMENT_VARIABLE,
  handlerLimitsEnv,
  parseDuration,
  parseEnvironment,
} from "@tessera/contract";
import { createCoordinator, startAdminServer, type ChainHook, type Coordinator } from "@tessera/coordinator";
import { dashboardAssetsDir } from "@tessera/dashboard";
import { InProcessInboundStream } from "@tessera/gateway";
import { runWorker, type WorkerHandle } from "@tessera/worker";
import type { Logger } from "pino";
import type { LoadedProject } from "../project/load-project.js";
import { createAutoscaler, type Autoscaler, type ScaleEvent } from "./autoscaler.js";
import { componentFromModule } from "./component-from-module.js";
import { mountDevGateway, type DevGateway } from "./dev-gateway.js";
import { createWorkerProcessPool, type WorkerExit, type WorkerPool } from "./worker-pool.js";

export type DevMode = { kind: "embedded" } | { kind: "process"; nats: "auto" | string };

export interface DevSessionOptions {
  project: LoadedProject;
  mode: DevMode;
  admin: { host: string; port: number };
  /** The gateway's inbound server (decision 0042); false: not mounted. Default: on the admin host, any free port. */
  gateway?: { host?: string; port?: number } | false;
  /** PGlite data directory; undefined = the coordinator's default (TESSERA_DATA_DIR, else the memory store). DATABASE_URL wins. */
  dataDir?: string;
  env: Readonly<Record<string, string | undefined>>;
  log: Logger;
  /** Process mode: how often the autoscaler reads lag (KEDA's pollingInterval). */
  autoscaleIntervalMs?: number;
  onScale?: (event: ScaleEvent) => void;
  onWorkerExit?: (exit: WorkerExit) => void;
  onWorkerOutput?: (component: string, instanceId: string, line: string) => void;
}

export interface DevSession {
  coordinator: Coordinator;
  bus: Bus;
  adminUrl: string;
  /** The dashboard, served by the admin API: `${adminUrl}/`. */
  dashboardUrl: string;
  natsUrl: string | undefined;
  /** The mounted gateway (its URL, the sample account's webhook URL), unless `gateway: false`. */
  gateway: DevGateway | undefined;
  /** Chained jobs each job's onCompleted hook submitted (this process's hooks only). */
  children(jobId: string): string[];
  autoscaler: Autoscaler | undefined;
  stop(): Promise<void>;
}

/**
 * Runs a project the way `tessera dev` does. Embedded: the in-process bus, the coordinator and every
 * component in this process. Process mode: a real nats-server (given, or started in a temp dir), the
 * coordinator here, and each component as worker processes scaled by the local KEDA stand-in.
 * Whatever started is stopped again if a later step fails.
 */
export async function startDevSession(opts: DevSessionOptions): Promise<DevSession> {
  const cleanups: (() => Promise<unknown>)[] = [];
  const stop = async (): Promise<void> => {
    for (const cleanup of cleanups.reverse().splice(0))
      await cleanup().catch((err: unknown) => opts.log.warn({ err }, "shutdown step failed"));
  };
  try {
    let bus: Bus;
    let natsUrl: string | undefined;
    if (opts.mode.kind === "embedded") {
      bus = createInProcessBus();
    } else {
      let server: LocalNatsServer | undefined;
      if (opts.mode.nats === "auto") {
        server = await startLocalNatsServer();
        cleanups.push(() => (server as LocalNatsServer).stop());
      }
      natsUrl = server?.url ?? opts.mode.nats;
      bus = await connectJetStreamBus({ servers: natsUrl, name: "tessera-dev-coordinator", provision: true });
    }
    cleanups.push(() => bus.close());

    const children = new Map<string, string[]>();
    const coordinator = await createCoordinator({
      bus,
      components: opts.project.components.map(({ modulePath: _modulePath, ...registration }) => registration),
      ...(opts.dataDir !== undefined ? { database: { dataDir: opts.dataDir } } : {}),
      sharedConfig: opts.project.definition.sharedConfig ?? {},
      sharedConfigClasses: opts.project.definition.sharedConfigClasses ?? {},
      onCompleted: recordingChildren(opts.project.definition.onCompleted ?? {}, children),
      env: opts.env,
      logger: opts.log,
      workers: opts.mode.kind === "embedded" ? "in-process" : "elsewhere",
    });
    cleanups.push(() => coordinator.close());

    let autoscaler: Autoscaler | undefined;
    if (opts.mode.kind === "embedded") {
      const workers: WorkerHandle[] = [];
      cleanups.push(() => Promise.all(workers.map((w) => w.stop())));
      for (const c of opts.project.components) {
        const definition = componentFromModule(
          (await import(pathToFileURL(c.modulePath).href)) as Record<string, unknown>,
          c.modulePath,
        );
        if (definition.name !== c.name)
          throw new Error(
            `${c.modulePath} defines component "${definition.name}" but its manifest is named "${c.name}"`,
          );
        workers.push(await runWorker(definition, { bus, logger: opts.log, handlerLimits: c.spec.handlerLimits }));
      }
    } else {
      const pool: WorkerPool = createWorkerProcessPool({
        natsUrl: natsUrl as string,
        components: opts.project.components.map((c) => ({
          name: c.name,
          modulePath: c.modulePath,
          env: handlerLimitsEnv(c.spec.handlerLimits),
        })),
        env: { LOG_LEVEL: opts.env["LOG_LEVEL"] ?? "warn" },
        ...(opts.onWorkerExit !== undefined ? { onExit: opts.onWorkerExit } : {}),
        ...(opts.onWorkerOutput !== undefined ? { onOutput: opts.onWorkerOutput } : {}),
      });
      cleanups.push(() => pool.stopAll());
      autoscaler = createAutoscaler({
        components: opts.project.components.map((c) => ({
          name: c.name,
          minReplicas: c.spec.scaling?.minReplicas ?? ComponentDefaults.minReplicas,
          maxReplicas: c.spec.scaling?.maxReplicas ?? ComponentDefaults.maxReplicas,
          queueDepthTarget: c.spec.scaling?.queueDepthTarget ?? ComponentDefaults.queueDepthTarget,
          cooldownMs:
            c.spec.scaling?.cooldownPeriod !== undefined
              ? parseDuration(c.spec.scaling.cooldownPeriod)
              : DEFAULT_COOLDOWN_MS,
        })),
        queueDepth: async (name) => (await bus.queueDepth(name)).total,
        pool,
        intervalMs: opts.autoscaleIntervalMs ?? 1_000,
        ...(opts.onScale !== undefined ? { onScale: opts.onScale } : {}),
        onError: (component, err) => opts.log.warn({ component, err }, "autoscaler could not read the queue depth"),
      });
      const scaler = autoscaler;
      cleanups.push(() => scaler.stop());
      autoscaler.start();
    }

    let gateway: DevGateway | undefined;
    if (opts.gateway !== false) {
      const mounted = await mountDevGateway({
        coordinator,
        environment: parseEnvironment(opts.env[ENVIRONMENT_VARIABLE]),
        inbound:
          natsUrl === undefined
            ? { kind: "in-process", stream: new InProcessInboundStream() }
            : { kind: "jetstream", natsUrl },
        host: opts.gateway?.host ?? opts.admin.host,
        port: opts.gateway?.port ?? 0,
        onWarning: (finding) => opts.log.warn({ rule: finding.rule }, finding.message),
      });
      cleanups.push(() => mounted.stop());
      gateway = mounted;
    }

    const admin = await startAdminServer(coordinator, {
      host: opts.admin.host,
      port: opts.admin.port,
      dashboard: dashboardAssetsDir(),
    });
    cleanups.push(() => admin.close());
    return {
      coordinator,
      bus,
      adminUrl: admin.url,
      dashboardUrl: `${admin.url}/`,
      natsUrl,
      gateway,
      autoscaler,
      children: (id) => children.get(id) ?? [],
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** KEDA's default cooldownPeriod (300 s) is long for a laptop; dev uses 30 s unless the spec says otherwise. */
const DEFAULT_COOLDOWN_MS = 30_000;

/** Wraps each hook so the dev session knows which jobs a job's completion submitted (for its results table). */
function recordingChildren(
  hooks: Readonly<Record<string, ChainHook>>,
  children: Map<string, string[]>,
): Record<string, ChainHook> {
  return Object.fromEntries(
    Object.entries(hooks).map(([component, hook]) => [
      component,
      (ctx) =>
        hook({
          ...ctx,
          submit: async (...args) => {
            const outcome = await ctx.submit(...args);
            const list = children.get(ctx.job.jobId) ?? [];
            if (!list.includes(outcome.jobId)) list.push(outcome.jobId);
            children.set(ctx.job.jobId, list);
            return outcome;
          },
        }),
    ]),
  );
}
