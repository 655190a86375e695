/**
 * Keeps one fixture process running: starts it, and whenever it exits (killed by the driver, killed by
 * itself at an armed point, or failed to start because NATS or the database is down) starts it again
 * after a delay, until stopped. Counts every start and every unexpected exit.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { spawnTsProcess, type TsProcess } from "@tessera/testkit";

export interface SupervisedOptions {
  name: string;
  file: string;
  cwd: string;
  env: Record<string, string | undefined>;
  /** Resolves when a fresh process is ready (e.g. its `ready` line); rejects if it is not. */
  ready(child: TsProcess): Promise<unknown>;
  /** Delay before a restart after a failed start (doubles up to 2 s). Default 100 ms. */
  retryDelayMs?: number;
}

export class Supervised {
  /** Starts, including restarts. */
  starts = 0;
  /** Starts that failed before the process was ready. */
  failedStarts = 0;
  private current: TsProcess | undefined;
  /** What `ready` resolved with for the current process (its ready line), while it is ready. */
  private readyWith: unknown;
  private isReady = false;
  private stopped = false;
  private nextDelayMs = 0;
  private loop: Promise<void> | undefined;
  private readonly waiters = new Set<() => void>();

  constructor(private readonly opts: SupervisedOptions) {}

  get name(): string {
    return this.opts.name;
  }

  get ready(): boolean {
    return this.isReady;
  }

  get pid(): number | undefined {
    return this.isReady ? this.current?.proc.pid : undefined;
  }

  start(): this {
    this.loop ??= this.run();
    return this;
  }

  /** Resolves once a process is ready (now, or after the next successful start). */
  whenReady(timeoutMs = 120_000): Promise<void> {
    if (this.isReady) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(done);
        reject(
          new Error(
            `${this.opts.name} was not ready within ${timeoutMs} ms; its last output:\n${this.current?.output().slice(-3_000) ?? ""}`,
          ),
        );
      }, timeoutMs);
      const done = (): void => {
        clearTimeout(timer);
        resolve();
      };
      this.waiters.add(done);
    });
  }

  /** SIGKILLs the current process (if any); it is started again after `restartDelayMs`. Resolves once it is dead. */
  async kill(restartDelayMs = 0): Promise<void> {
    this.nextDelayMs = restartDelayMs;
    await this.current?.kill();
  }

  /** Makes the next restart wait `ms` (for a process that is about to kill itself). */
  delayNextRestart(ms: number): void {
    this.nextDelayMs = ms;
  }

  /** The exit of the current process (e.g. to wait for one armed to kill itself). */
  exited(): Promise<unknown> {
    return this.current?.exited ?? Promise.resolve();
  }

  /** The ready process's ready line (undefined while none is ready). */
  get readyLine(): unknown {
    return this.isReady ? this.readyWith : undefined;
  }

  /**
   * A graceful restart, as a rolling update does it: SIGTERM (SIGKILL after `graceMs`), then the next
   * process is started at once; resolves when it is ready.
   */
  async restart(graceMs = 10_000): Promise<void> {
    const child = this.current;
    this.nextDelayMs = 0;
    if (child !== undefined && child.proc.exitCode === null && child.proc.signalCode === null) {
      child.proc.kill("SIGTERM");
      const timer = setTimeout(() => void child.kill(), graceMs);
      await child.exited;
      clearTimeout(timer);
    }
    // The loop notices the exit on its own turn: wait for its next process, not the old one's ready state.
    while (this.current === child) await new Promise((resolve) => setTimeout(resolve, 10));
    await this.whenReady();
  }

  /** Stops supervising: SIGTERM (a graceful drain) and SIGKILL after `graceMs`. */
  async stop(graceMs = 10_000): Promise<void> {
    this.stopped = true;
    const child = this.current;
    if (child !== undefined && child.proc.exitCode === null && child.proc.signalCode === null) {
      child.proc.kill("SIGTERM");
      const timer = setTimeout(() => void child.kill(), graceMs);
      await child.exited;
      clearTimeout(timer);
    }
    await this.loop;
  }

  output(): string {
    return this.current?.output() ?? "";
  }

  private async run(): Promise<void> {
    let failures = 0;
    while (!this.stopped) {
      const child = spawnTsProcess(this.opts.file, { cwd: this.opts.cwd, env: this.opts.env });
      this.current = child;
      this.starts += 1;
      try {
        this.readyWith = await this.opts.ready(child);
        failures = 0;
        this.isReady = true;
        for (const wake of [...this.waiters]) wake();
        this.waiters.clear();
      } catch {
        this.failedStarts += 1;
        failures += 1;
        await child.kill();
      }
      await child.exited;
      this.isReady = false;
      this.readyWith = undefined;
      if (this.stopped) break;
      const delay =
        failures > 0 ? Math.min(2_000, (this.opts.retryDelayMs ?? 100) * 2 ** (failures - 1)) : this.nextDelayMs;
      this.nextDelayMs = 0;
      if (delay > 0) await sleep(delay);
    }
  }
}
