import type { Bus, BusInventory } from "@tessera/bus";
import { ReasonCode, type Result } from "@tessera/contract";
import { pino, type Logger } from "pino";
import { recordResult } from "../results/record-result.js";
import type { SqlClient } from "../sql/sql-client.js";
import { SqlJobStore } from "../store/sql-job-store.js";
import {
  RECONCILE_OUTCOMES,
  type BusPlace,
  type LostJob,
  type ReconcileOutcome,
  type ReconcileReport,
} from "./restore-schemas.js";

export interface ReconcileOptions {
  /** Called after every `PROGRESS_EVERY` open jobs, and once at the end. */
  onProgress?: (done: number, total: number) => void;
  log?: Logger;
}

const PROGRESS_EVERY = 100;
/** The claimant of the outbox rows reconciling writes: nobody's, so the first coordinator to start takes them. */
const RESTORE_CLAIMANT = "tessera-restore";

interface OpenJob {
  job_id: string;
  component: string;
  state: "pending" | "queued";
  dispatches: number;
  [k: string]: unknown;
}

/**
 * Reconciles a freshly restored job store against the bus, before any coordinator runs on it: the store is
 * as it was at the backup point, the bus as it is now. Every job the store has open gets what the bus knows
 * of it (its Result, its dead letter) or is sent again through the outbox; every job the bus knows and the
 * store does not is listed as lost. Only the coordinator's own store code writes (the same conditional
 * updates that apply Results), so a job decided before the backup cannot be reopened or run again.
 */
export async function reconcileRestored(
  sql: SqlClient,
  bus: Bus,
  opts: ReconcileOptions = {},
): Promise<ReconcileReport> {
  const started = Date.now();
  const log = opts.log ?? pino({ level: "silent" });
  const store = new SqlJobStore(sql, { claimant: RESTORE_CLAIMANT });
  // The coordinators, leases and outbox claims of the dumped database belong to processes that never ran on
  // this one: forgetting them lets the first coordinator start at once instead of waiting for them to lapse.
  await sql.query("DELETE FROM tessera_coordinators");
  await sql.query("DELETE FROM tessera_leases");
  await sql.query("UPDATE tessera_outbox SET claimed_by = NULL");

  const components = (
    await sql.query<{ component: string }>(
      "SELECT DISTINCT component FROM tessera_jobs UNION SELECT DISTINCT component FROM tessera_dead_letters ORDER BY 1",
    )
  ).rows.map((r) => r.component);
  const inventory = await bus.inventory(components);
  const open = (
    await sql.query<OpenJob>(
      "SELECT job_id, component, state, dispatches FROM tessera_jobs WHERE state IN ('pending', 'queued') ORDER BY seq",
    )
  ).rows;

  const results = new Map(inventory.results.map((r) => [r.job_id, r]));
  const letters = new Map(inventory.deadLetters.filter((l) => l.jobId !== undefined).map((l) => [l.jobId, l]));
  const inStream = new Map(inventory.stored.map((s) => [s.jobId, s.streamSeq]));
  const outcomes = Object.fromEntries(RECONCILE_OUTCOMES.map((o) => [o, 0])) as Record<ReconcileOutcome, number>;

  let done = 0;
  for (const job of open) {
    const outcome = await reconcileOne(
      store,
      sql,
      job,
      results.get(job.job_id),
      letters.get(job.job_id),
      inStream,
      log,
    );
    outcomes[outcome]++;
    if (++done % PROGRESS_EVERY === 0) opts.onProgress?.(done, open.length);
  }
  opts.onProgress?.(done, open.length);

  return {
    open_jobs: open.length,
    outcomes,
    lost: await lostJobs(sql, inventory),
    components,
    duration_ms: Date.now() - started,
  };
}

async function reconcileOne(
  store: SqlJobStore,
  sql: SqlClient,
  job: OpenJob,
  result: Result | undefined,
  letter: BusInventory["deadLetters"][number] | undefined,
  inStream: ReadonlyMap<string | undefined, number>,
  log: Logger,
): Promise<ReconcileOutcome> {
  if (result !== undefined && result.component === job.component) {
    const outcome = await recordResult(store, result, undefined, log);
    if (outcome.kind === "applied") return "result_applied";
  }
  if (letter !== undefined && letter.streamSeq !== undefined) {
    const failed = await store.recordDeadLetter({
      jobId: job.job_id,
      component: job.component,
      streamSeq: letter.streamSeq,
      deliveries: letter.deliveries,
      // As the dead-letter flow records it, whatever the letter says: redrive looks for this reason.
      reasonCode: ReasonCode.DeadLettered,
      reasonDetail: letter.reasonDetail,
    });
    if (failed !== undefined) return "dead_lettered";
  }
  const seq = inStream.get(job.job_id);
  if (seq !== undefined) {
    // Published after the backup point and still waiting (or running): recorded as queued, as the relay would
    // have, so no second copy goes out once the duplicate window that would have caught it has passed.
    await sql.query(
      `WITH sent AS (
         UPDATE tessera_jobs SET state = 'queued', stream_seq = $2, dispatches = dispatches + 1,
                dispatched_at = coalesce(dispatched_at, now()), updated_at = now()
          WHERE job_id = $1 AND state = 'pending' RETURNING job_id
       )
       DELETE FROM tessera_outbox WHERE job_id IN (SELECT job_id FROM sent)`,
      [job.job_id, seq],
    );
    return "in_stream";
  }
  if (job.state === "pending") return "outbox";
  // Queued, and the bus has neither its message nor its Result: the message was lost with the bus's state,
  // or acked after the Result aged out of the Results stream. A fresh dedup key gets it past the duplicate
  // window; the relay sends a row it did not write with mayRepeat, so a worker looks for a Result first.
  await sql.query(
    `WITH requeued AS (
       UPDATE tessera_jobs SET state = 'pending', updated_at = now() WHERE job_id = $1 AND state = 'queued'
       RETURNING job_id, component, limit_key, dispatches
     )
     INSERT INTO tessera_outbox (job_id, component, limit_key, dedup_key, claimed_by)
     SELECT job_id, component, limit_key, job_id || ':restore:' || dispatches, NULL FROM requeued`,
    [job.job_id],
  );
  return "republished";
}

/** Every job id the bus holds that the restored store has no row for, with where the bus had it. */
async function lostJobs(sql: SqlClient, inventory: BusInventory): Promise<LostJob[]> {
  const seen = new Map<string, LostJob>();
  const note = (jobId: string | undefined, component: string, place: BusPlace, status?: string): void => {
    if (jobId === undefined) return;
    const entry = seen.get(jobId) ?? { job_id: jobId, component, found_in: [] };
    if (!entry.found_in.includes(place)) entry.found_in.push(place);
    if (status !== undefined) entry.result_status = status;
    seen.set(jobId, entry);
  };
  for (const r of inventory.results) note(r.job_id, r.component, "results", r.status);
  for (const s of inventory.stored) note(s.jobId, s.component, "stream");
  for (const l of inventory.deadLetters) note(l.jobId, l.component, "dead_letters");
  const ids = [...seen.keys()];
  const known = new Set(
    (
      await sql.query<{ job_id: string }>("SELECT job_id FROM tessera_jobs WHERE job_id = ANY($1::text[])", [ids])
    ).rows.map((r) => r.job_id),
  );
  return ids
    .filter((id) => !known.has(id))
    .map((id) => seen.get(id) as LostJob)
    .sort((a, b) => a.component.localeCompare(b.component) || a.job_id.localeCompare(b.job_id));
}
