import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { watchPostgres } from "./process-cpu.js";
import {
  spawnTsProcess,
  startNatsServer,
  startPostgres,
  type NatsServerHandle,
  type PostgresHandle,
  type TsProcess,
} from "@tessera/testkit";

const here = dirname(fileURLToPath(import.meta.url));
const WAIT_TIMEOUT_MS = 10 * 60_000;

/** The servers a bench run shares: one nats-server, and Postgres when a scenario needs it. */
export interface BenchEnv {
  readonly natsUrl: string;
  readonly natsVersion: string;
  /** A fresh database on the run's Postgres cluster (started on first use). */
  postgresDatabase(): Promise<string>;
  /**
   * A process running `bench/<path>` (`workers/...`, or `peers/workers/...`) with NATS_URL set; with
   * `stdin: "pipe"` it reads commands from its stdin.
   */
  spawnWorker(path: string, env: Record<string, string>, opts?: { stdin?: "pipe" }): TsProcess;
  waitUntil: typeof waitUntil;
  close(): Promise<void>;
}

/** Polls `done` every millisecond (benchmarks must notice the end at once), failing after 10 min. */
export function waitUntil(what: string, done: () => boolean): Promise<void> {
  return new Promise((resolve, reject) => {
    const deadline = Date.now() + WAIT_TIMEOUT_MS;
    const check = (): void => {
      let finished: boolean;
      try {
        finished = done();
      } catch (err) {
        reject(err);
        return;
      }
      if (finished) resolve();
      else if (Date.now() > deadline) reject(new Error(`timed out waiting for ${what}`));
      else setTimeout(check, 1);
    };
    check();
  });
}

/** Throws (with the end of its output) if `child` has exited: a wait for its work would otherwise run to its timeout. */
export function assertRunning(child: TsProcess, what: string): void {
  const { exitCode, signalCode } = child.proc;
  if (exitCode !== null || signalCode !== null)
    throw new Error(
      `${what} exited (${signalCode ?? `code ${exitCode}`}); its output:\n${child.output().slice(-2_000)}`,
    );
}

/**
 * Whether this process runs the Tessera packages' sources (started with `--conditions=@tessera/source`,
 * as the tests and the smoke run do) or their compiled `dist/` (`npm run bench`, after `npm run build`).
 * Worker processes are started the same way, so every row measures the same code.
 */
export const PACKAGES: "source" | "built" = process.execArgv.includes("--conditions=@tessera/source")
  ? "source"
  : "built";

export async function startBenchEnv(): Promise<BenchEnv> {
  const nats: NatsServerHandle = await startNatsServer();
  let postgres: Promise<PostgresHandle> | undefined;
  const children = new Set<TsProcess>();
  return {
    natsUrl: nats.url,
    get natsVersion() {
      return nats.version;
    },
    async postgresDatabase() {
      postgres ??= startPostgres().then((p) => (watchPostgres(p.dataDir), p));
      return (await postgres).createDatabase();
    },
    spawnWorker(path, env, opts = {}) {
      const child = spawnTsProcess(join(here, "..", path), {
        cwd: join(here, ".."),
        packages: PACKAGES,
        env: { NATS_URL: nats.url, LOG_LEVEL: "warn", ...env },
        ...opts,
      });
      children.add(child);
      void child.exited.then(() => children.delete(child));
      return child;
    },
    waitUntil,
    async close() {
      await Promise.allSettled([...children].map((c) => c.kill()));
      await Promise.allSettled([nats.stop(), postgres?.then((p) => p.stop())]);
    },
  };
}
