import { connectJetStreamBus, createInProcessBus, type Bus } from "@tessera/bus";
import type { ComponentSpec } from "@tessera/contract";
import { createCoordinator, type Coordinator, type DatabaseOption } from "@tessera/coordinator";
import type { TsProcess } from "@tessera/testkit";
import { defineComponent, runWorker, type WorkerHandle } from "@tessera/worker";
import { pino } from "pino";
import { assertRunning, type BenchEnv } from "./bench-env.js";
import { noopHandler } from "./isolation-components.js";

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

/** A coordinator and its workers, ready for jobs of `component`. */
export interface TesseraSetup {
  coordinator: Coordinator;
  component: string;
  /** Throws when a process the setup needs (a worker) has exited: the run would otherwise wait it out. */
  check(): void;
  close(): Promise<void>;
}

let names = 0;
const quiet = pino({ level: "warn" });

/**
 * Process mode: coordinators here on NATS, `workers` worker processes. With `coordinators` > 1 (Postgres
 * only), that many replicas on one database, each on its own NATS connection: submits go to them in turn,
 * and completions are counted on the first, which hears those the others record.
 */
export async function tesseraProcess(
  env: BenchEnv,
  opts: { store: Store; workers: number; warmup: boolean; coordinators?: number },
): Promise<TesseraSetup> {
  const component = `bench-${process.pid}-${++names}`;
  const db = await database(opts.store, env);
  const buses: Bus[] = [];
  const replicas: Coordinator[] = [];
  for (let i = 0; i < (opts.coordinators ?? 1); i++) {
    const bus = await connectJetStreamBus({ servers: env.natsUrl, name: `bench-coordinator-${i}` });
    buses.push(bus);
    replicas.push(
      await createCoordinator({
        bus,
        components: [{ name: component, spec: BENCH_SPEC }],
        database: db,
        env: {},
        logger: quiet,
      }),
    );
  }
  const first = replicas[0] as Coordinator;
  let next = 0;
  const coordinator: Coordinator =
    replicas.length === 1
      ? first
      : new Proxy(first, {
          get(target, prop) {
            if (prop === "submit")
              return (...args: Parameters<Coordinator["submit"]>) =>
                (replicas[next++ % replicas.length] as Coordinator).submit(...args);
            const value = Reflect.get(target, prop) as unknown;
            return typeof value === "function" ? (value as (...a: unknown[]) => unknown).bind(target) : value;
          },
        });
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
    component,
    check: () => children.forEach((c, i) => assertRunning(c, `worker process ${i + 1} of ${component}`)),
    async close() {
      await Promise.allSettled(children.map((c) => c.kill()));
      for (const replica of replicas) await replica.close();
      await buses[0]?.removeComponent(component).catch(() => undefined);
      for (const bus of buses) await bus.close();
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
  const coordinator = await createCoordinator({
    bus,
    components: [{ name: component, spec: BENCH_SPEC }],
    database: await database(opts.store, env),
    env: {},
    logger: quiet,
  });
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
    component,
    check: () => undefined,
    async close() {
      await worker.stop();
      await coordinator.close();
      await bus.close();
    },
  };
}
