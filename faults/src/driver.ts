/**
 * The fault run: a real Postgres, a real nats-server with a file store, the coordinator and N worker
 * processes; jobs submitted through the admin API while the chaos schedule SIGKILLs processes; then the
 * audit. The driver is thin on purpose: what to kill is decided by planChaos, what counts as lost or
 * duplicated by audit (both pure and unit-tested).
 */
import { writeFileSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import type { NatsServerHandle } from "@tessera/testkit";
import pg from "pg";
import type { KeyLimits } from "@tessera/coordinator";
import { audit, type Verdict } from "./audit.js";
import { auditLimits, tenantOf, type LimitsVerdict } from "./limits-audit.js";
import { completedResultsOnBus, storeJobs, StoreProgress, type StoredResult } from "./evidence.js";
import { countKills, planChaos, type KillCounts, type KillEvent } from "./schedule.js";
import type { ArmPoint, SideEffects } from "./side-effects.js";
import { COMPONENT, faultSpec, startStack, type Stack } from "./stack.js";
import { Submitter, type SubmitterStats } from "./submitter.js";
import type { Supervised } from "./supervisor.js";

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
  /** Downtime range of nats-server per kill (ms). Default [200, 3000]. */
  natsDownMs?: readonly [number, number];
  /** The whole run, submits to drained. Default 30 min. */
  timeoutMs?: number;
  /** Progress lines (default: none). */
  log?: (line: string) => void;
  /** Keep the run directory (the side-effect logs) for inspection. */
  keepDir?: boolean;
  /** Coordinator processes sharing the one database (replicas). Default 1. */
  coordinators?: number;
  /**
   * Per-key limits of the component; jobs then carry metadata `tenant` (one of `tenants`), and the audit
   * checks peak concurrency and rate per key.
   */
  limits?: KeyLimits;
  /** Distinct limit keys the jobs are spread over (round-robin). Default 20. */
  tenants?: number;
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
  /** Planned kills at a point nothing could pass any more: every job had already run when it was armed. */
  unreachable: KillCounts;
  /** Process starts beyond the first (restarts after kills and after failed starts). */
  restarts: { coordinator: number; workers: number; failedStarts: number };
  coordinators: number;
  /** The per-key limits audit, when the run had limits. */
  limits?: LimitsVerdict;
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
/** How long a `leaseHolder` kill waits for a live holder: past the lease's TTL plus a renewal tick on a loaded machine. */
const LEASE_HOLDER_WAIT_MS = 20_000;

export async function runFaults(opts: FaultRunOptions): Promise<FaultRunReport> {
  const started = Date.now();
  const log = opts.log ?? ((): void => undefined);
  const workers = opts.workers ?? 3;
  const concurrency = opts.concurrency ?? 4;
  const events = planChaos({
    seed: opts.seed,
    kills: opts.kills,
    ...(opts.natsDownMs !== undefined ? { natsDownMs: opts.natsDownMs } : {}),
  });
  const deadline = started + (opts.timeoutMs ?? 30 * 60_000);

  const stack: Stack = await startStack({
    spec: faultSpec({ ackWaitMs: opts.ackWaitMs ?? 2_000 }),
    workers,
    concurrency,
    handlerSleepMs: opts.handlerSleepMs ?? 20,
    ...(opts.coordinatorAckWaitMs !== undefined ? { coordinatorAckWaitMs: opts.coordinatorAckWaitMs } : {}),
    coordinators: opts.coordinators ?? 1,
    ...(opts.limits !== undefined ? { limits: opts.limits } : {}),
  });
  const { coordinators, workers: pool, effects, nats, databaseUrl } = stack;
  const children = [...coordinators, ...pool];
  const tenants = opts.tenants ?? 20;
  let progress: StoreProgress | undefined;
  try {
    log(
      `ready after ${Date.now() - started} ms: ${coordinators.length} coordinator(s), ${workers} workers x ${concurrency}; ${events.length} kills planned`,
    );

    const keys = Array.from({ length: opts.jobs }, (_, i) => `fault-${opts.seed}-${i}`);
    const submitter = new Submitter({
      urls: stack.adminUrls,
      component: COMPONENT,
      keys,
      input: (i) => ({ n: i }),
      ...(opts.limits !== undefined ? { metadata: (i: number) => ({ tenant: tenantOf(i, tenants) }) } : {}),
      concurrency: opts.submitConcurrency ?? 8,
      deadline,
    });
    const submitting = submitter.run();

    progress = new StoreProgress(databaseUrl);
    let decided = 0;
    let lastLog = 0;
    /**
     * Progress through the run, 0..1: jobs accepted plus jobs decided. A kill inside a handler is timed by the
     * jobs that have run instead: runs outpace decisions after a coordinator restart (a backlog of Results is
     * recorded at once), so by decisions such a kill could be armed when no job was left to run, and nobody
     * would take it (the short run failed so, in 3 of 7 loaded runs).
     */
    /** Distinct jobs whose handler has started at least once (the handlers' own log). */
    const jobsRun = (): number => new Set(effects.jobIds("executions")).size;
    const poll = async (event?: KillEvent): Promise<number> => {
      decided = (await progress?.decided()) ?? decided;
      const finished = event?.kind === "midHandler" ? jobsRun() : decided;
      if (Date.now() - lastLog > 5_000) {
        lastLog = Date.now();
        log(
          `${Math.round((Date.now() - started) / 1000)} s: accepted ${submitter.accepted}/${opts.jobs}, decided ${decided}, kills ${JSON.stringify(countKills(kills))}`,
        );
      }
      return (submitter.accepted + finished) / (2 * opts.jobs);
    };

    const kills: KillEvent[] = [];
    const unreachable: KillEvent[] = [];
    const chaos = async (): Promise<void> => {
      for (const event of events) {
        while ((await poll(event)) < event.at) {
          if (Date.now() > deadline) return;
          await sleep(100);
        }
        const outcome = await execute(event, {
          coordinators,
          databaseUrl,
          pool,
          nats,
          effects,
          log,
          allRun: () => jobsRun() >= opts.jobs,
        });
        if (outcome === "killed") kills.push(event);
        if (outcome === "unreachable") unreachable.push(event);
        effects.recordChaos({ ...event, outcome });
        log(
          `${outcome} ${event.kind}${event.point !== undefined ? ` (${event.point})` : ""} (done at ${Math.round((Date.now() - started) / 100) / 10} s), planned at progress ${event.at.toFixed(3)}, down ${event.downMs} ms`,
        );
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
    if (!timedOut) await stack.drained(Math.max(1_000, deadline - Date.now())).catch(() => (timedOut = true));
    log(`decided: ${decided}/${opts.jobs} after ${Date.now() - started} ms${timedOut ? " (timed out)" : ""}`);

    await Promise.all(children.map((c) => c.stop()));
    const stored: StoredResult[] = [];
    const [jobs, completedResults] = await Promise.all([
      storeJobs(databaseUrl),
      completedResultsOnBus(nats.url, stored),
    ]);
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
    const limitsVerdict =
      opts.limits === undefined
        ? undefined
        : auditLimits({ jobs, executions: effects.executions(), limits: opts.limits });
    if (limitsVerdict !== undefined && !limitsVerdict.ok) {
      verdict.problems.push(...limitsVerdict.problems);
      verdict.ok = false;
    }
    if (opts.keepDir === true) {
      // For the post-mortem: every completed Result of the jobs that have more than one.
      const counts = new Map<string, number>();
      for (const r of stored) counts.set(r.jobId, (counts.get(r.jobId) ?? 0) + 1);
      writeFileSync(
        join(stack.dir, "duplicate-results.json"),
        JSON.stringify(
          stored.filter((r) => (counts.get(r.jobId) ?? 0) > 1),
          null,
          1,
        ),
      );
    }
    const { refused, ...stats } = submitter.stats;
    return {
      seed: opts.seed,
      jobs: opts.jobs,
      workers,
      concurrency,
      kills: countKills(kills),
      planned: countKills(events),
      unreachable: countKills(unreachable),
      restarts: {
        coordinator: coordinators.reduce((n, c) => n + c.starts - 1, 0),
        workers: pool.reduce((n, w) => n + w.starts - 1, 0),
        failedStarts: children.reduce((n, c) => n + c.failedStarts, 0),
      },
      submit: { ...stats, refused: refused.length },
      coordinators: coordinators.length,
      ...(limitsVerdict !== undefined ? { limits: limitsVerdict } : {}),
      verdict,
      lost: verdict.lost + verdict.notAccepted,
      duplicateCompleted: verdict.duplicateCompleted,
      sideEffectsAppliedTwice: verdict.sideEffectsAppliedTwice,
      reExecutions: verdict.reExecutions,
      durationMs: Date.now() - started,
      timedOut,
      machine: await machine(nats, databaseUrl),
      ...(opts.keepDir === true ? { runDir: stack.dir } : {}),
    };
  } finally {
    await progress?.close().catch(() => undefined);
    await stack.close({ keepDir: opts.keepDir === true });
  }
}

interface ChaosParts {
  coordinators: readonly Supervised[];
  databaseUrl: string;
  pool: readonly Supervised[];
  nats: NatsServerHandle;
  effects: SideEffects;
  log: (line: string) => void;
  /** Every job has run at least once: nothing is left to pass a kill point inside a handler or the relay. */
  allRun: () => boolean;
}

/**
 * What became of a planned kill: carried out; skipped (an armed point nobody passed in time, with work
 * left); or unreachable (an armed point, and every job had already run, so nothing could pass it).
 */
type KillOutcome = "killed" | "skipped" | "unreachable";

/** Carries out one kill. */
async function execute(event: KillEvent, parts: ChaosParts): Promise<KillOutcome> {
  const { coordinators, pool, nats } = parts;
  switch (event.kind) {
    case "worker": {
      const worker = pool[(event.worker ?? 0) % pool.length] as Supervised;
      await worker.whenReady();
      await worker.kill(event.downMs);
      return "killed";
    }
    case "midHandler": {
      for (const w of pool) w.delayNextRestart(event.downMs);
      return armed(`mid-handler-${event.point ?? "before-effect"}`, parts);
    }
    case "coordinator": {
      const coordinator = coordinators[(event.worker ?? 0) % coordinators.length] as Supervised;
      await coordinator.whenReady();
      await coordinator.kill(event.downMs);
      return "killed";
    }
    case "leaseHolder": {
      const holder = await leaseHolder(parts);
      if (holder === undefined) return "skipped";
      await holder.kill(event.downMs);
      return "killed";
    }
    case "rollingRestart": {
      for (const c of coordinators) {
        await c.whenReady();
        await c.restart();
      }
      return "killed";
    }
    case "commitBeforePublish":
    case "publishBeforeMark": {
      // Whichever coordinator passes the point first takes it.
      await Promise.all(coordinators.map((c) => c.whenReady()));
      for (const c of coordinators) c.delayNextRestart(event.downMs);
      const dead = Promise.race(coordinators.map((c) => c.exited()));
      const outcome = await armed(
        event.kind === "commitBeforePublish" ? "commit-before-publish" : "publish-before-mark",
        parts,
      );
      if (outcome === "killed") await dead;
      return outcome;
    }
    case "nats": {
      await nats.kill();
      await sleep(event.downMs);
      await nats.start();
      return "killed";
    }
  }
}

/**
 * The coordinator process holding the maintenance lease (by the id its ready line named). Right after a
 * holder died (an earlier kill, or a restart) nobody holds it until the lease expires and another replica
 * takes it, and on a loaded machine that can take a while: it waits for a live holder among the ready
 * processes, for up to LEASE_HOLDER_WAIT_MS, before it gives up.
 */
async function leaseHolder(parts: Pick<ChaosParts, "coordinators" | "databaseUrl">): Promise<Supervised | undefined> {
  const client = new pg.Client({ connectionString: parts.databaseUrl });
  await client.connect();
  try {
    const until = Date.now() + LEASE_HOLDER_WAIT_MS;
    for (;;) {
      await Promise.all(parts.coordinators.map((c) => c.whenReady()));
      const res = await client.query<{ holder: string }>(
        "SELECT holder FROM tessera_leases WHERE name = 'maintenance' AND expires_at > now()",
      );
      const holder = res.rows[0]?.holder;
      const found = parts.coordinators.find((c) => (c.readyLine as { id?: unknown } | undefined)?.id === holder);
      if (found !== undefined || Date.now() > until) return found;
      await sleep(250);
    }
  } finally {
    await client.end();
  }
}

/**
 * Arms a kill point and waits for a process to take it; disarms it if nobody does in time, or once every
 * job has run (a fast stretch of the run can finish the work before the schedule reaches its next kill).
 */
async function armed(point: ArmPoint, parts: Pick<ChaosParts, "effects" | "log" | "allRun">): Promise<KillOutcome> {
  const { effects, log } = parts;
  effects.arm(point);
  const until = Date.now() + ARM_TIMEOUT_MS;
  let polls = 0;
  while (effects.isArmed(point)) {
    // Reading the executions log every 10 ms would be wasteful: every 200 ms.
    const unreachable = ++polls % 20 === 0 && parts.allRun();
    if (unreachable || Date.now() > until) {
      if (effects.disarm(point)) {
        log(
          unreachable
            ? `kill point ${point}: every job has run, nothing left to pass it; unreachable`
            : `kill point ${point} was not reached within ${ARM_TIMEOUT_MS} ms; skipped`,
        );
        return unreachable ? "unreachable" : "skipped";
      }
      break;
    }
    await sleep(10);
  }
  return "killed";
}

async function machine(nats: NatsServerHandle, databaseUrl: string): Promise<FaultRunReport["machine"]> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  const version = await client
    .query<{ v: string }>("SELECT current_setting('server_version') AS v")
    .finally(() => client.end());
  return {
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? "unknown",
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    natsServer: nats.version,
    postgres: version.rows[0]?.v ?? "unknown",
  };
}
