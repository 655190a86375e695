import { execFile, spawnSync } from "node:child_process";
import { access, appendFile, chown, mkdtemp, readdir, realpath, rm } from "node:fs/promises";
import { rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, dirname, join } from "node:path";
import { promisify } from "node:util";
import { freePort } from "./nats-server.js";

const execFileAsync = promisify(execFile);

export interface PostgresHandle {
  /** `postgres://postgres@127.0.0.1:<port>/postgres` (trust auth, no password). */
  url: string;
  port: number;
  /** The cluster's data directory (inside a temporary directory removed by stop()). */
  dataDir: string;
  /** Creates a fresh, uniquely named database (or `name`) and returns its URL. */
  createDatabase(name?: string): Promise<string>;
  /**
   * Stops the server and keeps its files (fast shutdown: clients are disconnected, committed work is kept):
   * the database is down until start().
   */
  halt(): Promise<void>;
  /** Starts the server again after halt(), on the same port and data directory. */
  start(): Promise<void>;
  /** Stops the cluster (immediate mode: nothing in it is worth a checkpoint) and removes its files. */
  stop(): Promise<void>;
}

const NOT_INSTALLED =
  "PostgreSQL is not installed (looked for initdb and pg_ctl on PATH and under /usr/lib/postgresql/*/bin). " +
  "Install it with: apt-get install -y postgresql";

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

/**
 * The server's bin directory: the first with both initdb and pg_ctl, PATH first, then Debian's versioned dirs,
 * newest first. Symlinks are resolved so the client tools (createdb) come from the same installation.
 */
async function findBinDir(): Promise<string> {
  const onPath = (process.env["PATH"] ?? "").split(delimiter).filter((d) => d !== "");
  const debian = await readdir("/usr/lib/postgresql").then(
    (versions) => versions.sort((a, b) => Number(b) - Number(a)).map((v) => join("/usr/lib/postgresql", v, "bin")),
    () => [],
  );
  for (const dir of [...onPath, ...debian]) {
    if ((await exists(join(dir, "initdb"))) && (await exists(join(dir, "pg_ctl"))))
      return dirname(await realpath(join(dir, "initdb")));
  }
  throw new Error(NOT_INSTALLED);
}

/**
 * initdb refuses to run as root, and the server must own its data dir, so as root the server-side tools run
 * as the `postgres` OS user (which Debian's package creates).
 */
async function serverUser(): Promise<{ uid: number; gid: number } | undefined> {
  if (process.getuid?.() !== 0) return undefined;
  const id = async (flag: string): Promise<number> =>
    Number((await execFileAsync("id", [flag, "postgres"])).stdout.trim());
  try {
    return { uid: await id("-u"), gid: await id("-g") };
  } catch {
    throw new Error(`running as root, but there is no "postgres" OS user to run the cluster as. ${NOT_INSTALLED}`);
  }
}

function asServerUser(runAs: boolean, bin: string, args: string[]): [string, string[]] {
  return runAs ? ["runuser", ["-u", "postgres", "--", bin, ...args]] : [bin, args];
}

async function run(cmd: [string, string[]], what: string): Promise<void> {
  try {
    await execFileAsync(cmd[0], cmd[1], { timeout: 60_000 });
  } catch (err) {
    const e = err as { stderr?: string; stdout?: string; message: string };
    throw new Error(`${what} failed: ${e.message}\n${e.stdout ?? ""}${e.stderr ?? ""}`);
  }
}

let databases = 0;

/**
 * Starts a private PostgreSQL cluster on a free loopback port, in a fresh temporary directory, tuned for
 * tests (no fsync). Nothing is shared with other clusters on the machine. Share one per test file and use
 * createDatabase() to isolate tests.
 */
export async function startPostgres(): Promise<PostgresHandle> {
  const binDir = await findBinDir();
  const user = await serverUser();
  const runAs = user !== undefined;
  const root = await mkdtemp(join(tmpdir(), "tessera-pg-"));
  if (user !== undefined) await chown(root, user.uid, user.gid);
  const dataDir = join(root, "data");
  const port = await freePort();

  await run(
    asServerUser(runAs, join(binDir, "initdb"), [
      "-D",
      dataDir,
      "-A",
      "trust",
      "-U",
      "postgres",
      "-E",
      "UTF8",
      "--locale=C",
      "--no-sync",
    ]),
    "initdb",
  );
  // In the config file rather than on pg_ctl's -o, which goes through a shell and would need quoting.
  await appendFile(
    join(dataDir, "postgresql.conf"),
    [
      "",
      `port = ${port}`,
      "listen_addresses = '127.0.0.1'",
      `unix_socket_directories = '${root}'`,
      "fsync = off",
      "synchronous_commit = off",
      "full_page_writes = off",
      "max_connections = 200",
      "",
    ].join("\n"),
  );

  const pgCtlStop = asServerUser(runAs, join(binDir, "pg_ctl"), ["-D", dataDir, "-m", "immediate", "-w", "stop"]);
  const pgCtlStart = asServerUser(runAs, join(binDir, "pg_ctl"), [
    "-D",
    dataDir,
    "-l",
    join(root, "server.log"),
    "-w",
    "-t",
    "30",
    "start",
  ]);
  // A test process that exits without stop() (a timeout, a crash) must not leave the cluster behind.
  const reap = (): void => {
    spawnSync(pgCtlStop[0], pgCtlStop[1], { stdio: "ignore" });
    rmSync(root, { recursive: true, force: true });
  };
  process.once("exit", reap);

  try {
    await run(pgCtlStart, "pg_ctl start");
  } catch (err) {
    process.off("exit", reap);
    reap();
    throw err;
  }

  const urlFor = (db: string): string => `postgres://postgres@127.0.0.1:${port}/${encodeURIComponent(db)}`;
  return {
    url: urlFor("postgres"),
    port,
    dataDir,
    async createDatabase(name) {
      const db = name ?? `t${process.pid}_${++databases}`;
      await run(
        [join(binDir, "createdb"), ["-h", "127.0.0.1", "-p", String(port), "-U", "postgres", db]],
        `createdb ${db}`,
      );
      return urlFor(db);
    },
    halt: () =>
      run(asServerUser(runAs, join(binDir, "pg_ctl"), ["-D", dataDir, "-m", "fast", "-w", "stop"]), "pg_ctl stop"),
    start: () => run(pgCtlStart, "pg_ctl start"),
    async stop() {
      process.off("exit", reap);
      await run(pgCtlStop, "pg_ctl stop");
      await rm(root, { recursive: true, force: true });
    },
  };
}
