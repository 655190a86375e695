import { spawn, type ChildProcess } from "node:child_process";
import { basename } from "node:path";
import { waitFor } from "./wait-for.js";

export interface TsProcess {
  proc: ChildProcess;
  /** Every JSON object line the process printed on stdout so far. */
  lines: Array<Record<string, unknown>>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** stdout and stderr so far. */
  output(): string;
  /** Waits for a stdout JSON line matching `match`; fails early (with the output) if the process exits first. */
  line(
    what: string,
    match: (l: Record<string, unknown>) => boolean,
    timeoutMs?: number,
  ): Promise<Record<string, unknown>>;
  /** Waits for at least `count` matching lines, like `line`. */
  linesMatching(
    what: string,
    match: (l: Record<string, unknown>) => boolean,
    count: number,
    timeoutMs?: number,
  ): Promise<Array<Record<string, unknown>>>;
  /** SIGKILL (if still running) and wait for the exit. */
  kill(): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/**
 * Starts a TypeScript file as its own Node process through tsx and collects its JSON stdout lines. The
 * Tessera packages it imports are their sources (`--conditions=@tessera/source`), the way worker and
 * coordinator fixtures run, unless `packages: "built"`: then their compiled `dist/`, as an installed
 * Tessera runs (the benchmark measures that; `npm run build` first).
 */
export function spawnTsProcess(
  file: string,
  opts: {
    cwd: string;
    env?: Record<string, string | undefined>;
    args?: readonly string[];
    packages?: "source" | "built";
    /** Keep its stdin open as a pipe (`proc.stdin`) for commands; otherwise it reads nothing. */
    stdin?: "pipe";
  },
): TsProcess {
  const name = basename(file);
  const conditions = opts.packages === "built" ? [] : ["--conditions=@tessera/source"];
  const proc = spawn(process.execPath, [...conditions, "--import", "tsx", file, ...(opts.args ?? [])], {
    cwd: opts.cwd,
    env: { ...process.env, LOG_LEVEL: "info", ...opts.env },
    stdio: [opts.stdin ?? "ignore", "pipe", "pipe"],
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
        const parsed: unknown = JSON.parse(part);
        if (typeof parsed === "object" && parsed !== null) lines.push(parsed as Record<string, unknown>);
      } catch {
        // not a JSON line
      }
    }
  });
  proc.stderr?.on("data", (chunk: Buffer) => (raw += chunk.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    proc.once("exit", (code, signal) => resolve({ code, signal })),
  );
  const withOutput = async <T>(run: () => Promise<T>): Promise<T> => {
    try {
      return await run();
    } catch (err) {
      throw new Error(`${(err as Error).message}; ${name} output:\n${raw.slice(-4_000)}`, { cause: err });
    }
  };
  const alive = (what: string): void => {
    if (proc.exitCode !== null || proc.signalCode !== null)
      throw new Error(`${name} exited (${proc.exitCode ?? proc.signalCode}) before ${what}`);
  };
  return {
    proc,
    lines,
    exited,
    output: () => raw,
    line: (what, match, timeoutMs = 15_000) =>
      withOutput(() =>
        waitFor(
          what,
          () => {
            const found = lines.find(match);
            if (found === undefined) alive(what);
            return found;
          },
          timeoutMs,
        ),
      ),
    linesMatching: (what, match, count, timeoutMs = 15_000) =>
      withOutput(() =>
        waitFor(
          what,
          () => {
            const found = lines.filter(match);
            if (found.length >= count) return found;
            alive(what);
            return undefined;
          },
          timeoutMs,
        ),
      ),
    kill: async () => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill("SIGKILL");
      return exited;
    },
  };
}
