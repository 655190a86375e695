import type { Worker } from "node:worker_threads";
import type { Logger } from "pino";
import type { JobMessage, ThreadMessage } from "./protocol.js";
import { forwardLog } from "./thread-log.js";
import { startHandlerThread, type ThreadTarget } from "./thread-start.js";

/** How a thread ended while it ran a job. */
export type ThreadEnd = { kind: "memory_limit" } | { kind: "crashed"; detail: string };

/** Who hears a thread while it runs a job. */
export interface ThreadListener {
  message(m: JobMessage): void;
  ended(end: ThreadEnd): void;
}

export interface HandlerThread {
  readonly worker: Worker;
  readonly heapMiB: number;
  listener: ThreadListener | undefined;
}

interface PooledThread extends HandlerThread {
  ready: Promise<void>;
  idleTimer: NodeJS.Timeout | undefined;
  /** Set by the first 'error' event: what the 'exit' that follows reports. */
  failure: ThreadEnd | undefined;
  gone: boolean;
  /** Stopped while idle to make room for a thread with another heap limit: not a failure to start. */
  evicted: boolean;
}

export interface ThreadPoolOptions {
  target: ThreadTarget;
  /** Threads kept at most (the component's concurrency: one job per thread). */
  maxThreads: number;
  /** An idle thread beyond the first is stopped after this long. */
  idleMs: number;
  /** How long a starting thread may take to import the component's module. */
  startTimeoutMs: number;
  log: Logger;
}

/**
 * Handler threads, one job at a time each, kept warm between jobs: a thread's heap limit is fixed when it
 * starts, so a job takes an idle thread started with its own limit, or a new one. A thread that ended (a
 * timeout, its heap limit, a crash) is dropped and a new one takes its place. The idle list holds threads
 * still starting too: a job that takes one waits for it rather than starting yet another.
 */
export class ThreadPool {
  private readonly idle: PooledThread[] = [];
  private readonly all = new Set<PooledThread>();
  private closed = false;

  constructor(private readonly opts: ThreadPoolOptions) {}

  /**
   * Starts a thread to have one warm; resolves once it has loaded the component (or once a job that needed
   * another heap limit took its place), rejects if it cannot load the component.
   */
  warm(heapMiB: number): Promise<void> {
    const thread = this.spawnIdle(heapMiB);
    return thread.ready.catch((err: unknown) => {
      if (!thread.evicted) throw err;
    });
  }

  /** A thread ready for a job with this heap limit; rejects if a new one cannot load the component. */
  async acquire(heapMiB: number): Promise<HandlerThread> {
    if (this.closed) throw new Error("the worker is stopping: no new handler threads");
    const index = this.idle.findIndex((t) => t.heapMiB === heapMiB);
    let thread: PooledThread;
    if (index >= 0) {
      [thread] = this.idle.splice(index, 1) as [PooledThread];
      clearTimeout(thread.idleTimer);
    } else {
      // Room for a thread with this limit: the idle thread with another limit that waited longest goes.
      const evicted = this.all.size >= this.opts.maxThreads ? this.idle.shift() : undefined;
      if (evicted !== undefined) {
        evicted.evicted = true;
        this.stop(evicted);
      }
      thread = this.spawn(heapMiB);
    }
    await thread.ready;
    return thread;
  }

  /** A thread whose job ended normally goes back to the idle list. */
  release(handle: HandlerThread): void {
    const thread = handle as PooledThread;
    thread.listener = undefined;
    if (thread.gone) return;
    if (this.closed) return this.stop(thread);
    this.idle.push(thread);
    // The first idle thread stays warm; the others go after a while without work.
    if (this.idle.length > 1) thread.idleTimer = setTimeout(() => this.stopIdle(thread), this.opts.idleMs).unref();
  }

  /**
   * Stops a thread whose job was interrupted, after `graceMs` (in which the handler may react to its
   * aborted signal), and starts a warm replacement if none is idle.
   */
  discard(handle: HandlerThread, graceMs: number): void {
    const thread = handle as PooledThread;
    thread.listener = undefined;
    this.forget(thread);
    setTimeout(() => void thread.worker.terminate(), graceMs).unref();
    this.replenish(thread.heapMiB);
  }

  async close(): Promise<void> {
    this.closed = true;
    const threads = [...this.all];
    await Promise.all(threads.map((t) => t.worker.terminate()));
  }

  private spawn(heapMiB: number): PooledThread {
    this.opts.log.debug({ heapMiB, threads: this.all.size, idle: this.idle.length }, "starting a handler thread");
    const worker = startHandlerThread(this.opts.target, heapMiB);
    let started: (() => void) | undefined;
    let notStarted: ((err: Error) => void) | undefined;
    const thread: PooledThread = {
      worker,
      heapMiB,
      listener: undefined,
      idleTimer: undefined,
      failure: undefined,
      gone: false,
      evicted: false,
      ready: new Promise<void>((resolve, reject) => {
        started = resolve;
        notStarted = reject;
      }),
    };
    // A caller that gave up on the thread (an interrupted job) must not leave an unhandled rejection.
    thread.ready.catch(() => undefined);
    this.all.add(thread);
    const fail = (err: Error): void => {
      notStarted?.(err);
      started = notStarted = undefined;
    };
    const startTimer = setTimeout(() => {
      fail(
        new Error(
          `the handler thread did not load ${this.opts.target.module} within ${this.opts.startTimeoutMs} ms (does its top level wait for something?)`,
        ),
      );
      this.stop(thread);
    }, this.opts.startTimeoutMs).unref();
    worker.on("message", (m: ThreadMessage) => {
      if (m.t === "ready") {
        clearTimeout(startTimer);
        started?.();
        started = notStarted = undefined;
      } else if (m.t === "failed") {
        clearTimeout(startTimer);
        fail(new Error(`component ${this.opts.target.component}: ${m.message}`));
        this.stop(thread);
      } else if (thread.listener !== undefined) thread.listener.message(m);
      // Something the last handler left running may still log after its job ended.
      else if (m.t === "log") forwardLog(m.line, () => this.opts.log);
    });
    worker.on("error", (err: Error & { code?: string }) => {
      thread.failure ??=
        err.code === "ERR_WORKER_OUT_OF_MEMORY"
          ? { kind: "memory_limit" }
          : { kind: "crashed", detail: err.stack ?? err.message };
    });
    worker.on("exit", (code) => {
      clearTimeout(startTimer);
      const end = thread.failure ?? { kind: "crashed" as const, detail: `the thread exited with code ${code}` };
      fail(
        new Error(`component ${this.opts.target.component}: the handler thread ended while starting: ${describe(end)}`),
      );
      this.forget(thread);
      const listener = thread.listener;
      thread.listener = undefined;
      if (listener !== undefined) {
        listener.ended(end);
        this.replenish(thread.heapMiB);
      } else if (thread.failure !== undefined && !this.closed) {
        // Something the last handler left running failed after its job ended.
        this.opts.log.warn({ reason: describe(end) }, "an idle handler thread ended; it is not replaced until needed");
      }
    });
    return thread;
  }

  private replenish(heapMiB: number): void {
    if (this.closed || this.idle.length > 0) return;
    this.spawnIdle(heapMiB).ready.catch((err: unknown) =>
      this.opts.log.warn({ err }, "a replacement handler thread did not start"),
    );
  }

  private spawnIdle(heapMiB: number): PooledThread {
    const thread = this.spawn(heapMiB);
    this.idle.push(thread);
    return thread;
  }

  private stopIdle(thread: PooledThread): void {
    const index = this.idle.indexOf(thread);
    if (index < 0 || this.idle.length <= 1) return;
    this.idle.splice(index, 1);
    this.stop(thread);
  }

  private stop(thread: PooledThread): void {
    this.forget(thread);
    void thread.worker.terminate();
  }

  private forget(thread: PooledThread): void {
    thread.gone = true;
    clearTimeout(thread.idleTimer);
    this.all.delete(thread);
    const index = this.idle.indexOf(thread);
    if (index >= 0) this.idle.splice(index, 1);
  }
}

function describe(end: ThreadEnd): string {
  return end.kind === "memory_limit" ? "it reached its heap limit" : end.detail;
}
