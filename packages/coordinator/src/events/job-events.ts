import type { Logger } from "pino";
import { ActivityCounter } from "../activity/activity-counter.js";
import { CoordinatorError } from "../errors.js";
import { TERMINAL_STATES, type JobEvent, type JobEventOrigin, type JobRecord, type JobState } from "../types.js";

/** waitForJob listens to job events; the poll is only a safety net, so it is slow. */
const WAIT_POLL_MS = 10_000;

/** What wakes a waiter: its job's new state, the coordinator closing, or a possibly missed event. */
type WaiterSignal = JobState | "closing" | "recheck";

/**
 * The job events of one coordinator, made here or heard from other replicas: who listens (`onJobEvent`,
 * SSE), who waits for a job to finish (`waitForJob`, woken only by its own job's events), and the activity
 * series the dashboard charts.
 */
export class JobEvents {
  readonly activity = new ActivityCounter();
  private readonly listeners = new Set<(event: JobEvent, origin: JobEventOrigin) => void>();
  private readonly waiters = new Map<string, Set<(signal: WaiterSignal) => void>>();

  constructor(private readonly log: Logger) {}

  onJobEvent(listener: (event: JobEvent, origin: JobEventOrigin) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** One job event to this process's waiters and listeners. */
  publish(event: JobEvent, origin: JobEventOrigin): void {
    for (const waiter of this.waiters.get(event.jobId) ?? []) waiter(event.state);
    this.activity.record(event, Date.now());
    for (const listener of this.listeners) {
      try {
        listener(event, origin);
      } catch (err) {
        this.log.warn({ err }, "a job event listener threw");
      }
    }
  }

  /** Events may have been missed: every waiter looks at its job again. */
  recheckAll(): void {
    this.signalAll("recheck");
  }

  /** The coordinator is closing: listeners are dropped, and every waiter is rejected. */
  close(): void {
    this.listeners.clear();
    this.signalAll("closing");
  }

  /** Resolves with the job once `getJob` finds it decided: looked at when its events say so, and on a slow poll. */
  waitForJob(
    jobId: string,
    getJob: (jobId: string) => Promise<JobRecord | undefined>,
    opts: { timeoutMs?: number } = {},
  ): Promise<JobRecord> {
    return new Promise((resolve, reject) => {
      let settled = false;
      const finish = (fn: () => void): void => {
        if (settled) return;
        settled = true;
        unsubscribe();
        clearInterval(poll);
        clearTimeout(timeout);
        fn();
      };
      const check = (): void => {
        getJob(jobId).then(
          (job) => {
            if (job === undefined) finish(() => reject(new CoordinatorError("not_found", `no job ${jobId}`)));
            else if (TERMINAL_STATES.includes(job.state)) finish(() => resolve(job));
          },
          (err: unknown) => finish(() => reject(err)),
        );
      };
      const waiters = this.waiters.get(jobId) ?? new Set<(signal: WaiterSignal) => void>();
      const onSignal = (signal: WaiterSignal): void => {
        if (signal === "closing")
          finish(() =>
            reject(new CoordinatorError("unavailable", `the coordinator closed before job ${jobId} finished`)),
          );
        else if (signal === "recheck" || TERMINAL_STATES.includes(signal)) check();
      };
      waiters.add(onSignal);
      this.waiters.set(jobId, waiters);
      const unsubscribe = (): void => {
        waiters.delete(onSignal);
        if (waiters.size === 0) this.waiters.delete(jobId);
      };
      const poll = setInterval(check, WAIT_POLL_MS);
      poll.unref();
      const timeout =
        opts.timeoutMs === undefined
          ? undefined
          : setTimeout(
              () =>
                finish(() =>
                  reject(
                    new CoordinatorError("unavailable", `job ${jobId} did not finish within ${opts.timeoutMs} ms`),
                  ),
                ),
              opts.timeoutMs,
            );
      check();
    });
  }

  private signalAll(signal: WaiterSignal): void {
    for (const waiters of [...this.waiters.values()]) for (const waiter of [...waiters]) waiter(signal);
  }
}
