import { activeContext, withContext, type PayloadStore } from "@tessera/bus";
import { ComponentDefaults, ReasonCode, type HandlerLimits, type Job } from "@tessera/contract";
import type { Logger } from "pino";
import type { ComponentDefinition } from "../define-component.js";
import { readInput } from "../handler-context.js";
import type { HandlerExecutor, HandlerOutcome, HandlerRun, RunRequest } from "../handler-outcome.js";
import { terminalCodeOf } from "../terminal-codes.js";
import { fromWireError, toWireError, type HostMessage, type JobMessage, type WireError } from "./protocol.js";
import { forwardLog } from "./thread-log.js";
import { ThreadPool, type HandlerThread, type ThreadEnd, type ThreadListener } from "./thread-pool.js";

const MiB = 1024 * 1024;

/**
 * The default heap of a job's thread: room for the input several times over (a parsed document weighs
 * more than its bytes), rounded up to a power of two so that jobs with nearby `max_bytes` share warm
 * threads. The floor is the same for every `max_bytes` up to the default 32 MiB, so that the thread a
 * worker warms at start fits the jobs it is likely to get.
 */
const DefaultHeap = { minMiB: 256, perInputByte: 8, maxMiB: 4_096 } as const;

/** The heap limit of the thread that runs a job, in MiB: the Component's, else derived from the job's `max_bytes`. */
export function heapMiBFor(maxBytes: number, limits: HandlerLimits | undefined): number {
  if (limits?.maxHeapMiB !== undefined) return limits.maxHeapMiB;
  const wanted = Math.max(DefaultHeap.minMiB, Math.ceil((maxBytes * DefaultHeap.perInputByte) / MiB));
  return Math.min(DefaultHeap.maxMiB, 2 ** Math.ceil(Math.log2(wanted)));
}

/** After an interrupt, how long the handler may react to its aborted signal (kill a child process it started). */
const ABORT_GRACE_MS = 100;
const IDLE_THREAD_MS = 60_000;
const THREAD_START_TIMEOUT_MS = 60_000;

export interface ThreadExecutor extends HandlerExecutor {
  /** Starts the first thread, so the first job finds it warm; rejects if the component's module cannot load there. */
  warm(): Promise<void>;
}

/** `isolation: "thread"`: each job's handler runs in a handler thread the host stops at the job's limits. */
export function threadExecutor(opts: {
  definition: ComponentDefinition;
  /** The module the threads import (the definition's). */
  module: string;
  payloads: PayloadStore;
  limits: HandlerLimits | undefined;
  maxOutputBytes: number;
  log: Logger;
}): ThreadExecutor {
  const { definition, limits, log } = opts;
  const pool = new ThreadPool({
    target: { module: opts.module, component: definition.name, logLevel: log.level },
    maxThreads: definition.concurrency,
    idleMs: IDLE_THREAD_MS,
    startTimeoutMs: THREAD_START_TIMEOUT_MS,
    log,
  });
  let runs = 0;
  return {
    warm: () => pool.warm(heapMiBFor(ComponentDefaults.maxBytes, limits)),
    start(request: RunRequest): HandlerRun {
      const run = ++runs;
      // The delivery's span: what the thread asks of the host (logging, payloads) is done in it.
      const ctx = activeContext();
      const heapMiB = heapMiBFor(request.job.limits.max_bytes, limits);
      let thread: HandlerThread | undefined;
      let interrupted = false;
      let onStart = (): void => undefined;
      const started = new Promise<void>((resolve) => (onStart = resolve));
      const outcome = (async (): Promise<HandlerOutcome> => {
        let acquired: HandlerThread;
        try {
          acquired = await pool.acquire(heapMiB);
        } catch (error) {
          return { kind: "error", error };
        }
        if (interrupted) {
          // Nobody waits for this outcome any more; the thread never started the job, so it is still clean.
          pool.release(acquired);
          return { kind: "shutdown" };
        }
        thread = acquired;
        return new Promise<HandlerOutcome>((resolve) => {
          const listener: ThreadListener = {
            message: (m) => {
              if (m.t !== "done")
                return withContext(ctx, () =>
                  serve(m, { run, request, thread: acquired, listener, payloads: opts.payloads, log }),
                );
              if (m.run !== run) return;
              pool.release(acquired);
              resolve(
                m.outcome.kind === "error" ? { kind: "error", error: fromWireError(m.outcome.error) } : m.outcome,
              );
            },
            ended: (end) => resolve(endedOutcome(end, heapMiB, request.job, limits)),
          };
          acquired.listener = listener;
          post(acquired, {
            t: "run",
            run,
            job: request.job,
            attempt: request.attempt,
            maxOutputBytes: opts.maxOutputBytes,
          });
          onStart();
        });
      })();
      return {
        started,
        outcome,
        interrupt(reason) {
          interrupted = true;
          if (thread?.listener === undefined) return;
          post(thread, { t: "abort", run, name: reason.name, message: reason.message });
          pool.discard(thread, ABORT_GRACE_MS);
        },
      };
    },
    close: () => pool.close(),
  };
}

function post(thread: HandlerThread, m: HostMessage, transfer: ArrayBuffer[] = []): void {
  thread.worker.postMessage(m, transfer);
}

/** Answers what a running handler asks of the host: its input, storing a payload, keepalive, logging. */
function serve(
  m: Exclude<JobMessage, { t: "done" }>,
  at: {
    run: number;
    request: RunRequest;
    thread: HandlerThread;
    listener: ThreadListener;
    payloads: PayloadStore;
    log: Logger;
  },
): void {
  if (m.t === "log") return forwardLog(m.line, (from) => (from === at.run ? at.request.log() : at.log));
  // Requests from a job that already ended (something its handler left running) get no answer.
  if (m.run !== at.run) return;
  if (m.t === "working") return at.request.working();
  const { job } = at.request;
  // Answered only while the thread still runs this job: an interrupted one is being terminated.
  const answer = (reply: HostMessage, transfer?: ArrayBuffer[]): void => {
    if (at.thread.listener === at.listener) post(at.thread, reply, transfer);
  };
  const failure = (err: unknown): WireError => toWireError(err, terminalCodeOf(err));
  if (m.t === "input")
    void Promise.resolve()
      .then(() => readInput(job, at.payloads))
      .then(
        (bytes) => {
          // An exact copy, transferred: what the store returned may be a view of a larger buffer, or shared.
          const copy = bytes.slice();
          answer({ t: "input", run: at.run, bytes: copy }, [copy.buffer]);
        },
        (err: unknown) => answer({ t: "input", run: at.run, error: failure(err) }),
      );
  else
    void Promise.resolve()
      .then(() => at.payloads.put(job.job_id, m.bytes))
      .then(
        (ref) => answer({ t: "put", run: at.run, id: m.id, ref }),
        (err: unknown) => answer({ t: "put", run: at.run, id: m.id, error: failure(err) }),
      );
}

function endedOutcome(end: ThreadEnd, heapMiB: number, job: Job, limits: HandlerLimits | undefined): HandlerOutcome {
  if (end.kind === "memory_limit") {
    const source =
      limits?.maxHeapMiB !== undefined
        ? "the Component's handlerLimits.maxHeapMiB"
        : `the default for the job's max_bytes of ${job.limits.max_bytes}; set handlerLimits.maxHeapMiB to change it`;
    return {
      kind: "terminal",
      code: ReasonCode.MemoryLimit,
      detail: `the handler's thread reached its heap limit of ${heapMiB} MiB (${source}) and was stopped`,
    };
  }
  // A crash is not known to be the input's fault: retried with backoff, dead-lettered after maxDeliver.
  return { kind: "error", error: new Error(`the handler's thread ended while running the job: ${end.detail}`) };
}
