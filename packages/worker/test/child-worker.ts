import { spawn, type ChildProcess } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { waitFor } from "@tessera/testkit";

const here = dirname(fileURLToPath(import.meta.url));

export interface ChildWorker {
  proc: ChildProcess;
  /** Every JSON log line so far. */
  lines: Array<Record<string, unknown>>;
  /** Waits for a log line matching `match`. */
  line(what: string, match: (l: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
  /** Resolves with the exit code (or signal) once the process has exited. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  output(): string;
}

/** Starts `test/fixtures/<fixture>` as a worker process, the way a component file is run. */
export function spawnWorker(fixture: string, env: Record<string, string | undefined>): ChildWorker {
  const proc = spawn(process.execPath, ["--conditions=@tessera/source", "--import", "tsx", join(here, "fixtures", fixture)], {
    cwd: join(here, ".."),
    env: { ...process.env, LOG_LEVEL: "info", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const lines: Array<Record<string, unknown>> = [];
  let raw = "";
  let pending = "";
  proc.stdout?.on("data", (chunk: Buffer) => {
    raw += chunk.toString();
    pending += chunk.toString();
    const parts = pending.split("\n");
    pending = parts.pop() ?? "";
    for (const part of parts) {
      try {
        lines.push(JSON.parse(part) as Record<string, unknown>);
      } catch {
        // not a log line
      }
    }
  });
  proc.stderr?.on("data", (chunk: Buffer) => (raw += chunk.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => proc.once("exit", (code, signal) => resolve({ code, signal })));
  return {
    proc,
    lines,
    exited,
    output: () => raw,
    line: async (what, match, timeoutMs = 15_000) => {
      try {
        return await waitFor(what, () => {
          const found = lines.find(match);
          if (found === undefined && proc.exitCode !== null) throw new Error(`the worker exited with ${proc.exitCode} before ${what}`);
          return found;
        }, timeoutMs);
      } catch (err) {
        throw new Error(`${(err as Error).message}; its output:\n${raw.slice(-4_000)}`);
      }
    },
  };
}

/** SIGKILLs the child if it still runs. */
export async function killWorker(w: ChildWorker): Promise<void> {
  if (w.proc.exitCode === null && w.proc.signalCode === null) w.proc.kill("SIGKILL");
  await w.exited;
}
