import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createRequire } from "node:module";
import { dirname, extname, join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath, pathToFileURL } from "node:url";

/** Runs a number of workers per component; what the autoscaler drives. */
export interface WorkerPool {
  /** Starts or stops workers until `replicas` of the component run. Stopping ones are not waited for. */
  scale(component: string, replicas: number): void;
  /** Workers of the component that run and were not asked to stop. */
  replicas(component: string): number;
  /** Asks every worker to stop; resolves once all have exited. The pool cannot be scaled after this. */
  stopAll(): Promise<void>;
}

export interface WorkerExit {
  component: string;
  instanceId: string;
  code: number | null;
  signal: NodeJS.Signals | null;
  /** False when the worker exited on its own (a crash, a fatal configuration error). */
  requested: boolean;
}

export interface WorkerProcessPoolOptions {
  /** Given to every worker as NATS_URL. */
  natsUrl: string;
  /**
   * `modulePath`: a module whose default export is the component (defineComponent(...)); `env`: extra
   * environment for this component's workers (its handler limits).
   */
  components: ReadonlyArray<{ name: string; modulePath: string; env?: Record<string, string> }>;
  /** Extra environment for every worker, over this process's own. */
  env?: Record<string, string>;
  /** One line of a worker's stdout or stderr. Default: written to stdout prefixed with `component/instance`. */
  onOutput?: (component: string, instanceId: string, line: string) => void;
  /** A worker exited; the pool no longer counts it. */
  onExit?: (exit: WorkerExit) => void;
  /**
   * How long a worker asked to stop may take before it is SIGKILLed. Default 40 s: above the worker's own
   * 30 s drain grace plus the time its aborted jobs get to settle, so a drain is never cut short.
   */
  stopGraceMs?: number;
}

interface Running {
  component: string;
  instanceId: string;
  proc: ChildProcess;
  stopping: boolean;
  killTimer: NodeJS.Timeout | undefined;
  exited: Promise<void>;
}

/**
 * Workers as child processes, the way `tessera dev` runs components in process mode: each one is
 * `node <worker-entry> <modulePath>` with NATS_URL set, so it runs exactly as it would in a container.
 * Scale-down SIGTERMs the newest worker, which drains its running jobs and exits.
 */
export function createWorkerProcessPool(opts: WorkerProcessPoolOptions): WorkerPool {
  const stopGraceMs = opts.stopGraceMs ?? 40_000;
  const onOutput =
    opts.onOutput ?? ((component, instanceId, line) => process.stdout.write(`${component}/${instanceId} | ${line}\n`));
  const nodeArgs = workerNodeArgs();
  const modules = new Map(opts.components.map((c) => [c.name, c.modulePath]));
  const componentEnv = new Map(opts.components.map((c) => [c.name, c.env ?? {}]));
  const running = new Map<string, Running[]>(opts.components.map((c) => [c.name, []]));
  const started = new Map<string, number>();
  let stopped = false;

  const all = (): Running[] => [...running.values()].flat();
  // Workers are this process's children: if it dies without stopAll(), they must not live on.
  const reap = (): void => all().forEach((w) => w.proc.kill("SIGKILL"));
  process.once("exit", reap);

  const workersOf = (component: string): Running[] => {
    const list = running.get(component);
    if (list === undefined)
      throw new Error(
        `unknown component ${JSON.stringify(component)}: this pool runs ${[...modules.keys()].map((n) => JSON.stringify(n)).join(", ")}`,
      );
    return list;
  };

  const startOne = (component: string, modulePath: string, list: Running[]): void => {
    const n = (started.get(component) ?? 0) + 1;
    started.set(component, n);
    const instanceId = `${component}-${n}-${randomBytes(2).toString("hex")}`;
    const proc = spawn(process.execPath, [...nodeArgs, modulePath], {
      env: {
        ...process.env,
        ...opts.env,
        ...componentEnv.get(component),
        NATS_URL: opts.natsUrl,
        TESSERA_INSTANCE_ID: instanceId,
        TESSERA_HTTP_PORT: "0",
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    for (const stream of [proc.stdout, proc.stderr]) {
      if (stream !== null)
        createInterface({ input: stream, crlfDelay: Infinity }).on("line", (line) =>
          onOutput(component, instanceId, line),
        );
    }
    const worker: Running = {
      component,
      instanceId,
      proc,
      stopping: false,
      killTimer: undefined,
      exited: new Promise((resolve) => {
        let done = false;
        const finish = (code: number | null, signal: NodeJS.Signals | null): void => {
          if (done) return;
          done = true;
          clearTimeout(worker.killTimer);
          list.splice(list.indexOf(worker), 1);
          opts.onExit?.({ component, instanceId, code, signal, requested: worker.stopping });
          resolve();
        };
        // "close", not "exit": the worker's last output lines come before its exit is reported.
        proc.once("close", finish);
        proc.on("error", (err) => {
          onOutput(component, instanceId, `worker process: ${err.message}`);
          // One that could not be spawned at all may never close.
          if (proc.pid === undefined) finish(null, null);
        });
      }),
    };
    list.push(worker);
  };

  const stopOne = (worker: Running): void => {
    worker.stopping = true;
    worker.proc.kill("SIGTERM");
    worker.killTimer = setTimeout(() => {
      onOutput(worker.component, worker.instanceId, `did not exit within ${stopGraceMs} ms of SIGTERM; killing it`);
      worker.proc.kill("SIGKILL");
    }, stopGraceMs);
  };

  return {
    scale(component, replicas) {
      if (stopped) throw new Error("the worker pool is stopped");
      if (!Number.isInteger(replicas) || replicas < 0)
        throw new RangeError(
          `scale(${JSON.stringify(component)}): expected a replica count >= 0, got ${String(replicas)}`,
        );
      const list = workersOf(component);
      const live = list.filter((w) => !w.stopping);
      for (let i = live.length; i < replicas; i++) startOne(component, modules.get(component) as string, list);
      // The newest first: the oldest have warmed up, and a just-started one has the least work in hand.
      for (const worker of live.slice(replicas).reverse()) stopOne(worker);
    },
    replicas(component) {
      return workersOf(component).filter((w) => !w.stopping).length;
    },
    async stopAll() {
      stopped = true;
      const workers = all();
      workers.filter((w) => !w.stopping).forEach(stopOne);
      await Promise.all(workers.map((w) => w.exited));
      process.off("exit", reap);
    },
  };
}

/** `node [--conditions=@tessera/source] --import tsx <worker-entry>`, independent of the working directory. */
function workerNodeArgs(): string[] {
  const here = fileURLToPath(import.meta.url);
  // Run from source (.ts) the workspace packages must resolve to their sources too; built, to dist.
  const fromSource = extname(here) === ".ts";
  // tsx from this package, not the project's: the user's component modules may be TypeScript either way.
  const tsx = pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href;
  return [
    ...(fromSource ? ["--conditions=@tessera/source"] : []),
    "--import",
    tsx,
    join(dirname(here), `worker-entry${extname(here)}`),
  ];
}
