import { setTimeout as sleep } from "node:timers/promises";
import {
  CoordinatorUnreachableError,
  TERMINAL_STATES,
  type AdminClient,
  type JobEvent,
  type JobState,
} from "@tessera/client";
import { mapWithConcurrency } from "../concurrency/map-with-concurrency.js";

/** Pause before reopening an event stream the coordinator closed, so a restart loop does not spin. */
const RECONNECT_DELAY_MS = 1_000;
const LOOKUP_CONCURRENCY = 8;

const isTerminal = (state: JobState | undefined): boolean => state !== undefined && TERMINAL_STATES.includes(state);

export interface JobChange {
  event: JobEvent;
  /** True when the state was read with GET (it was already so when following started), not seen as an event. */
  initial: boolean;
  /** With ids: how many have reached a terminal state, of how many. */
  progress?: { done: number; total: number };
}

export interface FollowOptions {
  /** Follow these jobs until every one is completed, failed or cancelled. Without ids, follow forever. */
  ids?: readonly string[];
  /** Only this component's jobs (server-side filter); used without ids. */
  component?: string;
  onChange(change: JobChange): void;
}

/**
 * Follows job state changes over the admin API's event stream, reporting each change once. With ids, the
 * stream is opened before the jobs' current states are read, so a change in between is not lost, and it
 * resolves with every job's final state. A stream the coordinator closes is reopened (and the states
 * re-read); a coordinator that is gone ends this with CoordinatorUnreachableError.
 */
export async function followJobs(client: AdminClient, opts: FollowOptions): Promise<Map<string, JobState>> {
  const ids = opts.ids === undefined ? undefined : [...new Set(opts.ids)];
  const wanted = ids === undefined ? undefined : new Set(ids);
  const known = new Map<string, JobState>();
  const doneCount = (): number => [...known.values()].filter(isTerminal).length;
  const allDone = (): boolean => ids !== undefined && ids.every((id) => isTerminal(known.get(id)));
  const record = (event: JobEvent, initial: boolean): void => {
    if (known.get(event.jobId) === event.state) return;
    known.set(event.jobId, event.state);
    opts.onChange({
      event,
      initial,
      ...(ids !== undefined ? { progress: { done: doneCount(), total: ids.length } } : {}),
    });
  };
  const filter =
    ids?.length === 1 ? { jobId: ids[0] as string } : opts.component !== undefined ? { component: opts.component } : {};

  for (;;) {
    const stream = await client.events(filter);
    try {
      if (ids !== undefined) {
        const jobs = await mapWithConcurrency(ids, LOOKUP_CONCURRENCY, (id) => client.job(id));
        for (const job of jobs)
          record(
            {
              jobId: job.jobId,
              component: job.component,
              state: job.state,
              reasonCode: job.reasonCode,
              at: job.updatedAt,
            },
            true,
          );
        if (allDone()) return known;
      }
      for await (const event of stream) {
        if (wanted !== undefined && !wanted.has(event.jobId)) continue;
        record(event, false);
        if (allDone()) return known;
      }
    } catch (err) {
      if (!(err instanceof CoordinatorUnreachableError)) throw err;
    } finally {
      stream.close();
    }
    await sleep(RECONNECT_DELAY_MS);
  }
}
