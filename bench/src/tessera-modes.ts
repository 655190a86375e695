import { connectJetStreamBus, createInProcessBus, type Bus } from "@tessera/bus";
import type { ComponentSpec } from "@tessera/contract";
import { createCoordinator, type Coordinator, type DatabaseOption, type SubmitInput } from "@tessera/coordinator";
import type { TsProcess } from "@tessera/testkit";
import { defineComponent, runWorker, type WorkerHandle } from "@tessera/worker";
import { pino } from "pino";
import { assertRunning, type BenchEnv } from "./bench-env.js";
import { noopHandler } from "./isolation-components.js";
import type { ReplicaCommand, ReplicaDone } from "./replica-commands.js";

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

export const BENCH_SPEC: ComponentSpec = {
  image: "bench/noop:1",
  inputMode: "content-ref",
  egress: "none",
  timeouts: { wallClock: "60s", ackWait: "30s" },
  maxDeliver: 5,
};
/** Jobs one worker process (or the embedded worker) runs at once. */
export const WORKER_CONCURRENCY = 256;
/** The worker's fresh-connection window (CLOCK_SLACK_MS in packages/worker/src/job-runner.ts) and a margin. */
const WORKER_WARMUP_MS = 2_500;

/** Where the coordinator keeps its jobs: Postgres, PGlite in memory, or the memory store (embedded mode's default). */
export type Store = "postgres" | "pglite" | "memory";

function database(store: Store, env: BenchEnv): Promise<DatabaseOption> | DatabaseOption {
  if (store === "postgres") return env.postgresDatabase().then((url) => ({ url }));
  return store === "pglite" ? { dataDir: "memory://" } : { memory: true };
}

/** A coordinator replica in a process of its own, on the same database and nats-server as `coordinator`. */
export interface RemoteReplica {
  /** Submits `jobs` jobs of `input` there, `window` at once; resolves when every submit has returned. */
  submit(jobs: number, window: number, input: SubmitInput): Promise<void>;
  /** Submits there at `rate` for `seconds`: each job's ms from its submit until that replica heard its Result. */
  latency(rate: number, seconds: number, input: SubmitInput): Promise<number[]>;
}

/** A coordinator and its workers, ready for jobs of `component`. */
export interface TesseraSetup {
  coordinator: Coordinator;
  /** The other replicas, each its own process (none for one coordinator): they take their share of the submits. */
  remotes: RemoteReplica[];
  component: string;
  /** Throws when a process the setup needs (a worker) has exited: the run would otherwise wait it out. */
  check(): void;
  close(): Promise<void>;
}

let names = 0;
const quiet = pino({ level: "warn" });

/** The bench's coordinator of `component`: the same one in this process and in a replica process. */
export function benchCoordinator(bus: Bus, component: string, database: DatabaseOption): Promise<Coordinator> {
  return createCoordinator({
    bus,
    components: [{ name: component, spec: BENCH_SPEC }],
    database,
    env: {},
    logger: quiet,
  });
}

/** Replica process `n` (from 1), ready for commands. */
async function spawnReplica(
  env: BenchEnv,
  n: number,
  component: string,
  url: string,
): Promise<RemoteReplica & { child: TsProcess }> {
  const child = env.spawnWorker(
    "workers/coordinator-replica.ts",
    { DATABASE_URL: url, COMPONENT: component, REPLICA: String(n) },
    { stdin: "pipe" },
  );
  await child.line(`coordinator replica ${n} to start`, (l) => l["event"] === "ready", 60_000);
  let ids = 0;
  const run = async (command: DistributiveOmit<ReplicaCommand, "id">): Promise<ReplicaDone> => {
    const id = ++ids;
    child.proc.stdin?.write(`${JSON.stringify({ ...command, id })}\n`);
    const done = await child.line(
      `coordinator replica ${n} to finish its ${command.kind}`,
      (l) => l["event"] === "done" && l["id"] === id,
      600_000,
    );
    return done as unknown as ReplicaDone;
  };
  return {
    child,
    async submit(jobs, window, input) {
      await run({ kind: "submit", jobs, window, input });
    },
    async latency(rate, seconds, input) {
      return (await run({ kind: "latency", rate, seconds, input })).samples ?? [];
    },
  };
}

/**
 * Process mode: a coordinator here on NATS, `workers` worker processes. With `coordinators` > 1 (Postgres only),
 * that many replicas on one database: this one and `coordinators - 1` more, each in its own process, which the
 * drivers hand their share of the submits (`remotes`). Completions are counted here: this replica hears those the
 * others record.
 */
export async function tesseraProcess(
  env: BenchEnv,
  opts: { store: Store; workers: number; warmup: boolean; coordinators?: number },
): Promise<TesseraSetup> {
  const component = `bench-${process.pid}-${++names}`;
  const db = await database(opts.store, env);
  const bus = await connectJetStreamBus({ servers: env.natsUrl, name: "bench-coordinator-0" });
  const coordinator = await benchCoordinator(bus, component, db);
  const replicas: Array<RemoteReplica & { child: TsProcess }> = [];
  for (let n = 1; n < (opts.coordinators ?? 1); n++) {
    if (!("url" in db) || db.url === undefined) throw new Error("replica processes need a Postgres database");
    replicas.push(await spawnReplica(env, n, component, db.url));
  }
  const children: TsProcess[] = [];
  for (let i = 0; i < opts.workers; i++)
    children.push(
      env.spawnWorker("workers/noop-worker.ts", { COMPONENT: component, CONCURRENCY: String(WORKER_CONCURRENCY) }),
    );
  await Promise.all(children.map((c) => c.line("a worker process to start", (l) => l["event"] === "ready", 30_000)));
  // For its first seconds on a connection a worker looks up the Result of every job before running it (a
  // restarted nats-server may redeliver finished jobs as new: docs/reliability.md). The bench measures a
  // worker past that, as in a running deployment; the check's cost is in docs/performance.md. (--quick
  // checks that the bench runs, not its timings, and skips the wait.)
  if (opts.warmup) await new Promise((resolve) => setTimeout(resolve, WORKER_WARMUP_MS));
  return {
    coordinator,
    remotes: replicas,
    component,
    check: () => {
      children.forEach((c, i) => assertRunning(c, `worker process ${i + 1} of ${component}`));
      replicas.forEach((r, i) => assertRunning(r.child, `coordinator replica ${i + 1} of ${component}`));
    },
    async close() {
      await Promise.allSettled(children.map((c) => c.kill()));
      // Its stdin ending is a replica's cue to close its coordinator and exit.
      for (const r of replicas) r.child.proc.stdin?.end();
      await Promise.allSettled(
        replicas.map((r) => Promise.race([r.child.exited, new Promise((res) => setTimeout(res, 10_000))])),
      );
      await Promise.allSettled(replicas.map((r) => r.child.kill()));
      await coordinator.close();
      await bus.removeComponent(component).catch(() => undefined);
      await bus.close();
    },
  };
}

/** Embedded mode: in-process bus, the worker in this process, and the memory store (the default) or PGlite in memory. */
export async function tesseraEmbedded(
  env: BenchEnv,
  opts: { store: Exclude<Store, "postgres"> },
): Promise<TesseraSetup> {
  const component = `bench-embedded-${++names}`;
  const bus: Bus = createInProcessBus();
  const coordinator = await benchCoordinator(bus, component, await database(opts.store, env));
  const worker: WorkerHandle = await runWorker(
    defineComponent({
      name: component,
      concurrency: WORKER_CONCURRENCY,
      isolation: "none",
      handle: noopHandler,
    }),
    { bus, logger: quiet },
  );
  return {
    coordinator,
    remotes: [],
    component,
    check: () => undefined,
    async close() {
      await worker.stop();
      await coordinator.close();
      await bus.close();
    },
  };
}
