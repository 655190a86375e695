/**
 * The run directory every process of a fault run shares: what the handlers did, what the coordinator
 * recorded, and the files that arm a process to kill itself at a chosen point.
 *
 * ```
 * <dir>/executions.log     one line per handler run: "<job id> <attempt> <pid> <ms since epoch>"
 * <dir>/effects/<job id>   the idempotent side effect: created once per job id (link(2) fails if it exists)
 * <dir>/applied.log        one line per successful creation of an effect: "<job id>"
 * <dir>/naive.log          one line per run of the same effect without a key check: "<job id>"
 * <dir>/completions.log    one line per completion a coordinator recorded: "<job id>"
 * <dir>/kills.log          one JSON line per process that killed itself at an armed point
 * <dir>/chaos.log          one JSON line per kill the driver carried out
 * <dir>/arm/<point>        present: the next process to pass <point> removes it and SIGKILLs itself
 * <dir>/poison-fixed       present: poison jobs succeed
 * ```
 *
 * Every log line is one append(2) of a few bytes (O_APPEND), so concurrent processes never interleave a line,
 * and a process killed mid-run leaves whole lines only.
 */
import {
  appendFileSync,
  existsSync,
  linkSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  unlinkSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";

export type ArmPoint =
  "mid-handler-before-effect" | "mid-handler-after-effect" | "commit-before-publish" | "publish-before-mark";

export interface SelfKill {
  point: ArmPoint;
  pid: number;
  jobId?: string;
  at: number;
}

export class SideEffects {
  readonly poisonFixedFile: string;
  private readonly effectsDir: string;
  private readonly armDir: string;
  private tmpCounter = 0;

  constructor(readonly dir: string) {
    this.effectsDir = join(dir, "effects");
    this.armDir = join(dir, "arm");
    this.poisonFixedFile = join(dir, "poison-fixed");
    mkdirSync(this.effectsDir, { recursive: true });
    mkdirSync(this.armDir, { recursive: true });
  }

  // ---- written by the processes ----------------------------------------------------------------

  executed(jobId: string, attempt: number): void {
    appendFileSync(join(this.dir, "executions.log"), `${jobId} ${attempt} ${process.pid} ${Date.now()}\n`);
  }

  /**
   * The side effect, idempotent by job id: the effect file appears atomically with its content (written
   * aside, then hard-linked to its name, which fails if the name exists). Returns whether this run applied
   * it (false: an earlier run of the job already had).
   */
  applyOnce(jobId: string): boolean {
    const tmp = join(this.effectsDir, `.tmp-${process.pid}-${++this.tmpCounter}`);
    writeFileSync(tmp, `${jobId} applied by ${process.pid}\n`);
    try {
      linkSync(tmp, join(this.effectsDir, jobId));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "EEXIST") return false;
      throw err;
    } finally {
      unlinkSync(tmp);
    }
    appendFileSync(join(this.dir, "applied.log"), `${jobId}\n`);
    return true;
  }

  /** The same effect without the key check: applied on every run. */
  naive(jobId: string): void {
    appendFileSync(join(this.dir, "naive.log"), `${jobId}\n`);
  }

  recordedCompletion(jobId: string): void {
    appendFileSync(join(this.dir, "completions.log"), `${jobId}\n`);
  }

  /** If `point` is armed, disarms it (one process wins the unlink), logs it and SIGKILLs this process. */
  dieIfArmed(point: ArmPoint, jobId?: string): void {
    const file = join(this.armDir, point);
    if (!existsSync(file)) return;
    try {
      unlinkSync(file);
    } catch {
      return; // another process took it
    }
    const kill: SelfKill = { point, pid: process.pid, ...(jobId !== undefined ? { jobId } : {}), at: Date.now() };
    appendFileSync(join(this.dir, "kills.log"), `${JSON.stringify(kill)}\n`);
    process.kill(process.pid, "SIGKILL");
  }

  // ---- used by the driver ----------------------------------------------------------------------

  arm(point: ArmPoint): void {
    writeFileSync(join(this.armDir, point), "");
  }

  /** Removes the arm file; true if it was still there (nobody passed the point). */
  disarm(point: ArmPoint): boolean {
    try {
      unlinkSync(join(this.armDir, point));
      return true;
    } catch {
      return false;
    }
  }

  isArmed(point: ArmPoint): boolean {
    return existsSync(join(this.armDir, point));
  }

  /** The driver's own record of a kill it carried out. */
  recordChaos(event: Record<string, unknown>): void {
    appendFileSync(join(this.dir, "chaos.log"), `${JSON.stringify({ ...event, at: Date.now() })}\n`);
  }

  fixPoison(): void {
    writeFileSync(this.poisonFixedFile, "");
  }

  /** The first field of every line of a log (a job id). */
  jobIds(log: "executions" | "applied" | "naive" | "completions"): string[] {
    return this.lines(`${log}.log`).map((l) => l.split(" ")[0] ?? "");
  }

  /** Every handler run: its job and when it started (ms since the epoch). */
  executions(): Array<{ jobId: string; at: number }> {
    return this.lines("executions.log").map((l) => {
      const [jobId = "", , , at = "0"] = l.split(" ");
      return { jobId, at: Number(at) };
    });
  }

  effects(): string[] {
    return readdirSync(this.effectsDir).filter((f) => !f.startsWith(".tmp-"));
  }

  selfKills(): SelfKill[] {
    return this.lines("kills.log").map((l) => JSON.parse(l) as SelfKill);
  }

  private lines(file: string): string[] {
    let text: string;
    try {
      text = readFileSync(join(this.dir, file), "utf8");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
      throw err;
    }
    return text.split("\n").filter((l) => l !== "");
  }
}
