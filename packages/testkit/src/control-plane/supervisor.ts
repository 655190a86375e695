import { spawn, spawnSync } from "node:child_process";
import { closeSync, existsSync, openSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** One server process of the control plane, in a process group of its own. */
export interface Supervised {
  readonly name: string;
  readonly pid: number;
  readonly logFile: string;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  running(): boolean;
  /** The last `chars` characters of its combined stdout and stderr. */
  logTail(chars?: number): Promise<string>;
  /** SIGKILL its whole process group and wait for the exit. */
  kill(): Promise<void>;
}

const DIR_PREFIX = "tessera-cp-";
/** Process groups and folders to reap if the test process exits without stop(). */
const liveGroups = new Set<number>();
const liveDirs = new Set<string>();
let exitHookInstalled = false;

function reapAll(): void {
  for (const pgid of liveGroups) killGroup(pgid);
  for (const dir of liveDirs) rmSync(dir, { recursive: true, force: true });
}

function killGroup(pgid: number): void {
  try {
    process.kill(-pgid, "SIGKILL");
  } catch {
    // already gone
  }
}

/**
 * setpriv (util-linux) sets the parent-death signal before exec: when the test process dies, even by SIGKILL,
 * the kernel kills each server too. Without it only the exit hook reaps them (not on SIGKILL).
 */
const hasSetpriv = ((): boolean => spawnSync("setpriv", ["--version"], { stdio: "ignore" }).status === 0)();

/**
 * A fresh folder for one control plane, reaped with its processes. Folders left by a test process that was
 * SIGKILLed (its servers died with it, by the parent-death signal) are removed first.
 */
export async function controlPlaneDir(): Promise<string> {
  for (const entry of readdirSync(tmpdir())) {
    if (!entry.startsWith(DIR_PREFIX)) continue;
    const dir = join(tmpdir(), entry);
    const owner = join(dir, "owner.pid");
    if (!existsSync(owner)) continue;
    const pid = Number(readFileSync(owner, "utf8"));
    if (!Number.isInteger(pid) || !processAlive(pid)) rmSync(dir, { recursive: true, force: true });
  }
  const dir = await mkdtemp(join(tmpdir(), DIR_PREFIX));
  await writeFile(join(dir, "owner.pid"), String(process.pid));
  liveDirs.add(dir);
  installExitHook();
  return dir;
}

export function releaseDir(dir: string): void {
  liveDirs.delete(dir);
  rmSync(dir, { recursive: true, force: true });
}

/** Running and not a zombie (a killed process stays one until its parent reaps it); Linux /proc. */
function processAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
  } catch {
    return false;
  }
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once("exit", reapAll);
}

/** Starts `bin args` with its output in `<dir>/<name>.log`, detached into its own process group. */
export function supervise(
  name: string,
  bin: string,
  args: ReadonlyArray<string>,
  opts: { dir: string; env?: NodeJS.ProcessEnv },
): Supervised {
  installExitHook();
  const logFile = join(opts.dir, `${name}.log`);
  const fd = openSync(logFile, "a");
  const [cmd, argv] = hasSetpriv ? ["setpriv", ["--pdeathsig", "KILL", "--", bin, ...args]] : [bin, [...args]];
  const child = spawn(cmd, argv, {
    cwd: opts.dir,
    env: opts.env ?? process.env,
    // Its own process group, so one kill reaches anything it starts, and a Ctrl-C meant for vitest does not.
    detached: true,
    stdio: ["ignore", fd, fd],
  });
  closeSync(fd);
  if (child.pid === undefined) throw new Error(`${name}: could not start ${bin}`);
  const pid = child.pid;
  liveGroups.add(pid);
  let done = false;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once("exit", (code, signal) => {
      done = true;
      liveGroups.delete(pid);
      resolve({ code, signal });
    });
    child.once("error", () => {
      done = true;
      liveGroups.delete(pid);
      resolve({ code: null, signal: null });
    });
  });
  // The servers must not keep the test process alive on their own.
  child.unref();
  return {
    name,
    pid,
    logFile,
    exited,
    running: () => !done,
    logTail: async (chars = 4_000) => (await readFile(logFile, "utf8").catch(() => "")).slice(-chars),
    kill: async () => {
      if (done) return;
      // Waiting for the exit must keep the event loop alive (the child was unref'd).
      child.ref();
      killGroup(pid);
      await exited;
    },
  };
}

/**
 * Polls `check` until it returns true; fails early with the process's log when it exits first, and after
 * `timeoutMs` with the log too (a server that never gets ready says why in its log).
 */
export async function waitReady(
  proc: Supervised,
  what: string,
  check: () => Promise<boolean>,
  timeoutMs: number,
): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    if (!proc.running()) throw new Error(`${proc.name} exited before ${what}:\n${await proc.logTail()}`);
    if (await check().catch(() => false)) return;
    if (Date.now() > until)
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}; ${proc.name} log:\n${await proc.logTail()}`,
      );
    await new Promise((r) => setTimeout(r, 100));
  }
}
