/**
 * The fault run: a real Postgres, a real nats-server with a file store, the coordinator and N worker
 * processes; jobs submitted through the admin API while the chaos schedule SIGKILLs processes; then the
 * audit. The driver is thin on purpose: what to kill is decided by planChaos, what counts as lost or
 * duplicated by audit (both pure and unit-tested).
 */
import { mkdtemp, rm } from "node:fs/promises";
import { cpus, tmpdir, totalmem } from "node:os";
import { dirname, join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect, nanos } from "@nats-io/transport-node";
import { connectJetStreamBus } from "@tessera/bus";
import {
  ADVISORY_STREAM,
  COORDINATOR_ADVISORIES_CONSUMER,
  COORDINATOR_RESULTS_CONSUMER,
  RESULTS_STREAM,
  busSettingsFromSpec,
  durableConsumerName,
  jobStreamName,
  type ComponentSpec,
} from "@tessera/contract";
import { freePort, startNatsServer, startPostgres, type NatsServerHandle, type PostgresHandle, type TsProcess } from "@tessera/testkit";
import pg from "pg";
import { audit, type Verdict } from "./audit.js";
import { completedResultsOnBus, storeJobs, StoreProgress } from "./evidence.js";
import { countKills, planChaos, type KillCounts, type KillEvent } from "./schedule.js";
import { SideEffects, type ArmPoint } from "./side-effects.js";
import { Submitter, type SubmitterStats } from "./submitter.js";
import { Supervised } from "./supervisor.js";

const here = dirname(fileURLToPath(import.meta.url));
export const FAULTS_ROOT = join(here, "..");
export const PROCESSES = join(FAULTS_ROOT, "processes");

export const COMPONENT = "faults";

export interface FaultRunOptions {
  jobs: number;
  seed: number;
  kills: KillCounts;
  /** Worker processes. Default 3. */
  workers?: number;
  /** Handlers per worker process. Default 4. */
  concurrency?: number;
  /** Submits in flight. Default 8. */
  submitConcurrency?: number;
  /** The component's ack wait: how long a job held by a killed worker waits before it is redelivered. Default 2 s. */
  ackWaitMs?: number;
  /**
   * The ack wait of the coordinator's own consumers (Results, advisories), set on the bus before the
   * coordinator first starts. Default: the product's (30 s): Results a killed coordinator held wait that long.
   */
  coordinatorAckWaitMs?: number;
  /** The handler sleeps 0..N ms twice per job. Default 20. */
  handlerSleepMs?: number;
  /** The whole run, submits to drained. Default 30 min. */
  timeoutMs?: number;
  /** Progress lines (default: none). */
  log?: (line: string) => void;
  /** Keep the run directory (the side-effect logs) for inspection. */
  keepDir?: boolean;
}

export interface FaultRunReport {
  seed: number;
  jobs: number;
  workers: number;
  concurrency: number;
  /** Kills carried out, by kind. */
  kills: KillCounts;
  /** Kills planned, by kind (an armed point nobody passed in time is not carried out). */
  planned: KillCounts;
  /** Process starts beyond the first (restarts after kills and after failed starts). */
  restarts: { coordinator: number; workers: number; failedStarts: number };
  submit: Omit<SubmitterStats, "refused"> & { refused: number };
  verdict: Verdict;
  lost: number;
  duplicateCompleted: number;
  sideEffectsAppliedTwice: number;
  reExecutions: number;
  durationMs: number;
  timedOut: boolean;
  machine: { cpus: number; cpuModel: string; memoryGiB: number; node: string; natsServer: string; postgres: string };
  runDir?: string;
}

const ARM_TIMEOUT_MS = 10_000;

export function chaosSpec(ackWaitMs: number): ComponentSpec {
  return { image: "tessera/faults:1", inputMode: "content-ref", egress: "none", timeouts: { wallClock: "30s", ackWait: `${ackWaitMs / 1000}s` }, maxDeliver: 20 };
}

/** The coordinator child, ready once its admin API listens. */
export function coordinatorProcess(env: { databaseUrl: string; natsUrl: string; dir: string; adminPort: number; spec: ComponentSpec }): Supervised {
  return new Supervised({
    name: "coordinator",
    file: join(PROCESSES, "coordinator.ts"),
    cwd: FAULTS_ROOT,
    env: {
      DATABASE_URL: env.databaseUrl,
      NATS_URL: env.natsUrl,
      FAULTS_DIR: env.dir,
      FAULTS_COMPONENT: COMPONENT,
      FAULTS_SPEC: JSON.stringify(env.spec),
      FAULTS_ADMIN_PORT: String(env.adminPort),
      LOG_LEVEL: "warn",
    },
    ready: (child: TsProcess) => child.line("the coordinator to be ready", (l) => l["event"] === "ready", 60_000),
  });
}

/** A worker child, ready once its job consumer is bound. */
export function workerProcess(i: number, env: { natsUrl: string; dir: string; concurrency: number; sleepMs: number }): Supervised {
  return new Supervised({
    name: `worker-${i}`,
    file: join(PROCESSES, "worker.ts"),
    cwd: FAULTS_ROOT,
    env: {
      NATS_URL: env.natsUrl,
      FAULTS_DIR: env.dir,
      FAULTS_COMPONENT: COMPONENT,
      FAULTS_CONCURRENCY: String(env.concurrency),
      FAULTS_SLEEP_MS: String(env.sleepMs),
      TESSERA_INSTANCE_ID: `worker-${i}`,
      TESSERA_DRAIN_GRACE_MS: "2000",
      // "job consumer bound; ready" is an info line; the rest of info would be noise.
      LOG_LEVEL: "info",
    },
    ready: (child: TsProcess) => child.line("the worker to bind its consumer", (l) => l["msg"] === "job consumer bound; ready", 60_000),
  });
}

/** Creates the component's stream and consumer and the shared streams, and sets the coordinator consumers' ack wait. */
export async function provision(natsUrl: string, spec: ComponentSpec, coordinatorAckWaitMs?: number): Promise<void> {
  const bus = await connectJetStreamBus({ servers: natsUrl, name: "faults-provision" });
  try {
    await bus.ensureComponent(busSettingsFromSpec(COMPONENT, spec));
  } finally {
    await bus.close();
  }
  if (coordinatorAckWaitMs === undefined) return;
  const nc = await connect({ servers: natsUrl });
  try {
    const jsm = await jetstreamManager(nc);
    for (const [stream, durable] of [
      [RESULTS_STREAM, COORDINATOR_RESULTS_CONSUMER],
      [ADVISORY_STREAM, COORDINATOR_ADVISORIES_CONSUMER],
    ] as const) {
      await jsm.consumers.update(stream, durable, { ack_wait: nanos(coordinatorAckWaitMs) });
    }
  } finally {
    await nc.close();
  }
}

export async function runFaults(opts: FaultRunOptions): Promise<FaultRunReport> {
  const started = Date.now();
  const log = opts.log ?? ((): void => undefined);
  const workers = opts.workers ?? 3;
  const concurrency = opts.concurrency ?? 4;
  const spec = chaosSpec(opts.ackWaitMs ?? 2_000);
  const events = planChaos({ seed: opts.seed, kills: opts.kills });
  const deadline = started + (opts.timeoutMs ?? 30 * 60_000);

  let postgres: PostgresHandle | undefined;
  let nats: NatsServerHandle | undefined;
  const dir = await mkdtemp(join(tmpdir(), "tessera-faults-"));
  const children: Supervised[] = [];
  let progress: StoreProgress | undefined;
  try {
    [postgres, nats] = await Promise.all([startPostgres(), startNatsServer()]);
    const databaseUrl = await postgres.createDatabase("faults");
    const natsUrl = nats.url;
    const effects = new SideEffects(dir);
    await provision(natsUrl, spec, opts.coordinatorAckWaitMs);

    const adminPort = await freePort();
    const coordinator = coordinatorProcess({ databaseUrl, natsUrl, dir, adminPort, spec }).start();
    children.push(coordinator);
    const pool = Array.from({ length: workers }, (_, i) => workerProcess(i, { natsUrl, dir, concurrency, sleepMs: opts.handlerSleepMs ?? 20 }).start());
    children.push(...pool);
    await Promise.all(children.map((c) => c.whenReady()));
    log(`ready after ${Date.now() - started} ms: coordinator, ${workers} workers x ${concurrency}; ${events.length} kills planned`);

    const keys = Array.from({ length: opts.jobs }, (_, i) => `fault-${opts.seed}-${i}`);
    const submitter = new Submitter({
      url: `http://127.0.0.1:${adminPort}`,
      component: COMPONENT,
      keys,
      input: (i) => ({ n: i }),
      concurrency: opts.submitConcurrency ?? 8,
      deadline,
    });
    const submitting = submitter.run();

    progress = new StoreProgress(databaseUrl);
    let decided = 0;
    let lastLog = 0;
    const poll = async (): Promise<number> => {
      decided = (await progress?.decided()) ?? decided;
      const p = (submitter.accepted + decided) / (2 * opts.jobs);
      if (Date.now() - lastLog > 5_000) {
        lastLog = Date.now();
        log(`${Math.round((Date.now() - started) / 1000)} s: accepted ${submitter.accepted}/${opts.jobs}, decided ${decided}, kills ${JSON.stringify(countKills(done))}`);
      }
      return p;
    };

    const done: KillEvent[] = [];
    const chaos = async (): Promise<void> => {
      for (const event of events) {
        while ((await poll()) < event.at) {
          if (Date.now() > deadline) return;
          await sleep(100);
        }
        const t0 = Date.now();
        const fired = await execute(event, { coordinator, pool, nats: nats as NatsServerHandle, effects, log });
        if (fired) done.push(event);
        log(`${fired ? "killed" : "skipped"} ${event.kind}${event.point !== undefined ? ` (${event.point})` : ""} at ${Math.round((t0 - started) / 100) / 10} s, progress ${event.at.toFixed(3)}, down ${event.downMs} ms`);
      }
    };
    await chaos();

    // Every job accepted and decided, then the stream drained: no delivery left that could run a job again.
    await submitting;
    let timedOut = false;
    while ((await poll()) < 1) {
      if (Date.now() > deadline) {
        timedOut = true;
        break;
      }
      await sleep(200);
    }
    if (!timedOut) await drained(natsUrl, deadline);
    log(`decided: ${decided}/${opts.jobs} after ${Date.now() - started} ms${timedOut ? " (timed out)" : ""}`);

    await Promise.all(children.map((c) => c.stop()));
    const [jobs, completedResults] = await Promise.all([storeJobs(databaseUrl), completedResultsOnBus(natsUrl)]);
    const verdict = audit({
      keys,
      responses: submitter.responses,
      jobs,
      executions: effects.jobIds("executions"),
      effects: effects.effects(),
      applied: effects.jobIds("applied"),
      naive: effects.jobIds("naive"),
      completedResults,
      recordedCompletions: effects.jobIds("completions"),
    });
    const { refused, ...stats } = submitter.stats;
    return {
      seed: opts.seed,
      jobs: opts.jobs,
      workers,
      concurrency,
      kills: countKills(done),
      planned: countKills(events),
      restarts: {
        coordinator: coordinator.starts - 1,
        workers: pool.reduce((n, w) => n + w.starts - 1, 0),
        failedStarts: children.reduce((n, c) => n + c.failedStarts, 0),
      },
      submit: { ...stats, refused: refused.length },
      verdict,
      lost: verdict.lost + verdict.notAccepted,
      duplicateCompleted: verdict.duplicateCompleted,
      sideEffectsAppliedTwice: verdict.sideEffectsAppliedTwice,
      reExecutions: verdict.reExecutions,
      durationMs: Date.now() - started,
      timedOut,
      machine: await machine(nats, databaseUrl),
      ...(opts.keepDir === true ? { runDir: dir } : {}),
    };
  } finally {
    await Promise.allSettled(children.map((c) => c.stop(2_000)));
    await progress?.close().catch(() => undefined);
    await Promise.allSettled([nats?.stop(), postgres?.stop()]);
    if (opts.keepDir !== true) await rm(dir, { recursive: true, force: true });
  }
}

interface ChaosParts {
  coordinator: Supervised;
  pool: readonly Supervised[];
  nats: NatsServerHandle;
  effects: SideEffects;
  log: (line: string) => void;
}

/** Carries out one kill; false if it could not be (an armed point nobody passed in time). */
async function execute(event: KillEvent, parts: ChaosParts): Promise<boolean> {
  const { coordinator, pool, nats, effects } = parts;
  switch (event.kind) {
    case "worker": {
      const worker = pool[(event.worker ?? 0) % pool.length] as Supervised;
      await worker.whenReady();
      await worker.kill(event.downMs);
      return true;
    }
    case "midHandler": {
      for (const w of pool) w.delayNextRestart(event.downMs);
      return armed(`mid-handler-${event.point ?? "before-effect"}`, effects, parts.log);
    }
    case "coordinator": {
      await coordinator.whenReady();
      await coordinator.kill(event.downMs);
      return true;
    }
    case "commitBeforePublish":
    case "publishBeforeMark": {
      await coordinator.whenReady();
      coordinator.delayNextRestart(event.downMs);
      const dead = coordinator.exited();
      const fired = await armed(event.kind === "commitBeforePublish" ? "commit-before-publish" : "publish-before-mark", effects, parts.log);
      if (fired) await dead;
      return fired;
    }
    case "nats": {
      await nats.kill();
      await sleep(event.downMs);
      await nats.start();
      return true;
    }
  }
}

/** Arms a kill point and waits for a process to take it; disarms it if nobody does in time. */
async function armed(point: ArmPoint, effects: SideEffects, log: (line: string) => void): Promise<boolean> {
  effects.arm(point);
  const until = Date.now() + ARM_TIMEOUT_MS;
  while (effects.isArmed(point)) {
    if (Date.now() > until) {
      if (effects.disarm(point)) {
        log(`kill point ${point} was not reached within ${ARM_TIMEOUT_MS} ms; skipped`);
        return false;
      }
      break;
    }
    await sleep(10);
  }
  return true;
}

/** Waits until the component's stream holds nothing (no delivery pending or unacknowledged). */
async function drained(natsUrl: string, deadline: number): Promise<void> {
  const nc = await connect({ servers: natsUrl });
  try {
    const jsm = await jetstreamManager(nc);
    while (Date.now() < deadline) {
      const info = await jsm.consumers.info(jobStreamName(COMPONENT), durableConsumerName(COMPONENT));
      if (info.num_pending + info.num_ack_pending === 0) return;
      await sleep(200);
    }
  } finally {
    await nc.close();
  }
}

async function machine(nats: NatsServerHandle, databaseUrl: string): Promise<FaultRunReport["machine"]> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  const version = await client.query<{ v: string }>("SELECT current_setting('server_version') AS v").finally(() => client.end());
  return {
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? "unknown",
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    natsServer: nats.version,
    postgres: version.rows[0]?.v ?? "unknown",
  };
}
