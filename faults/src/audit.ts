/**
 * The final audit of a fault run: pure, from what the run left behind (the submitter's responses, the
 * store's rows, the Results stream and the handlers' own logs) to a verdict.
 */

export type JobState = "pending" | "queued" | "completed" | "failed" | "cancelled";
const TERMINAL: ReadonlySet<JobState> = new Set(["completed", "failed", "cancelled"]);

/** One successful submit response (a retried key can have several). */
export interface SubmitResponse {
  key: string;
  jobId: string;
  created: boolean;
}

/** One row of the coordinator's store. */
export interface StoreJob {
  jobId: string;
  idempotencyKey: string | null;
  state: JobState;
  reasonCode: string | null;
  duplicateResults: number;
  /** The job's limit key (metadata `tenant` when the component has limits). */
  limitKey?: string | null;
  /** When the store last changed the job (its decision, for a decided job), ms since the epoch. */
  updatedAt?: number;
}

export interface AuditInput {
  /** Every idempotency key the submitter was asked to submit. */
  keys: readonly string[];
  responses: readonly SubmitResponse[];
  jobs: readonly StoreJob[];
  /** One job id per handler run (the handlers' execution log). */
  executions: readonly string[];
  /** The job ids whose idempotent side effect exists (one file per job id: it cannot exist twice). */
  effects: readonly string[];
  /** One job id per successful claim of the side effect's key (the handlers' applied log). */
  applied: readonly string[];
  /** One job id per run of the handler's non-idempotent side effect (it has no key check). */
  naive: readonly string[];
  /** One job id per `completed` Result stored on the bus's Results stream. */
  completedResults: readonly string[];
  /** One job id per completion the coordinator recorded (its job events, across every coordinator process). */
  recordedCompletions: readonly string[];
}

export interface LostJob {
  key: string;
  jobId?: string;
  state?: JobState;
  why: string;
}

export interface Verdict {
  jobs: number;
  /** Accepted by a submit and not in the store in a terminal state. */
  lost: number;
  /** Keys no submit attempt was ever accepted for (the submitter knows: an error, not a silent loss). */
  notAccepted: number;
  completed: number;
  failed: number;
  failedByReason: Record<string, number>;
  /** Keys that became more than one job. */
  duplicateSubmits: number;
  /** Store rows no key of this run asked for. */
  unexpectedJobs: number;
  /** `completed` Results beyond the first per job: on the Results stream, plus completions recorded twice. */
  duplicateCompleted: number;
  duplicateCompletedOnBus: number;
  duplicateCompletedRecorded: number;
  /** Duplicate Results the coordinator received and ignored (the store's duplicate_results). */
  duplicateResultsIgnored: number;
  /** Claims of the idempotent side effect's key beyond the first per job. */
  sideEffectsAppliedTwice: number;
  /** Completed jobs whose idempotent side effect does not exist. */
  sideEffectsMissing: number;
  /** Handler runs beyond the first per job. */
  reExecutions: number;
  executions: number;
  jobsReExecuted: number;
  /** What the same side effect without a key check would have done twice or more (at-least-once shows here). */
  naiveDuplicateEffects: number;
  lostJobs: LostJob[];
  ok: boolean;
  problems: string[];
}

function tally(values: readonly string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  return counts;
}

/** Σ max(0, count − 1): occurrences beyond the first of each value. */
function extras(counts: ReadonlyMap<string, number>): number {
  let n = 0;
  for (const c of counts.values()) n += Math.max(0, c - 1);
  return n;
}

const SAMPLE = 20;

export function audit(input: AuditInput): Verdict {
  const byId = new Map(input.jobs.map((j) => [j.jobId, j]));
  const byKey = new Map<string, StoreJob[]>();
  for (const j of input.jobs) {
    if (j.idempotencyKey === null) continue;
    const list = byKey.get(j.idempotencyKey) ?? [];
    list.push(j);
    byKey.set(j.idempotencyKey, list);
  }
  const responseIds = new Map<string, Set<string>>();
  for (const r of input.responses) {
    const ids = responseIds.get(r.key) ?? new Set<string>();
    ids.add(r.jobId);
    responseIds.set(r.key, ids);
  }

  const keySet = new Set(input.keys);
  const lostJobs: LostJob[] = [];
  let lost = 0;
  let notAccepted = 0;
  let duplicateSubmits = 0;
  for (const key of input.keys) {
    const ids = responseIds.get(key);
    const rows = byKey.get(key) ?? [];
    if (rows.length > 1) duplicateSubmits += rows.length - 1;
    if (ids === undefined) {
      notAccepted += 1;
      continue;
    }
    if (ids.size > 1) duplicateSubmits += ids.size - 1;
    for (const jobId of ids) {
      const job = byId.get(jobId);
      const why =
        job === undefined
          ? "accepted, but not in the store"
          : TERMINAL.has(job.state)
            ? undefined
            : `accepted, still ${job.state}`;
      if (why === undefined) continue;
      lost += 1;
      if (lostJobs.length < SAMPLE)
        lostJobs.push({ key, jobId, ...(job !== undefined ? { state: job.state } : {}), why });
    }
  }
  const unexpectedJobs = input.jobs.filter((j) => j.idempotencyKey === null || !keySet.has(j.idempotencyKey)).length;

  let completed = 0;
  let failed = 0;
  const failedByReason: Record<string, number> = {};
  let duplicateResultsIgnored = 0;
  const completedIds: string[] = [];
  for (const j of input.jobs) {
    duplicateResultsIgnored += j.duplicateResults;
    if (j.state === "completed") {
      completed += 1;
      completedIds.push(j.jobId);
    } else if (j.state === "failed") {
      failed += 1;
      const reason = j.reasonCode ?? "unknown";
      failedByReason[reason] = (failedByReason[reason] ?? 0) + 1;
    }
  }

  const duplicateCompletedOnBus = extras(tally(input.completedResults));
  const duplicateCompletedRecorded = extras(tally(input.recordedCompletions));
  const sideEffectsAppliedTwice = extras(tally(input.applied));
  const effects = new Set(input.effects);
  const sideEffectsMissing = completedIds.filter((id) => !effects.has(id)).length;
  const runs = tally(input.executions);
  const reExecutions = extras(runs);
  const jobsReExecuted = [...runs.values()].filter((c) => c > 1).length;

  const verdict: Omit<Verdict, "ok" | "problems"> = {
    jobs: input.keys.length,
    lost,
    notAccepted,
    completed,
    failed,
    failedByReason,
    duplicateSubmits,
    unexpectedJobs,
    duplicateCompleted: duplicateCompletedOnBus + duplicateCompletedRecorded,
    duplicateCompletedOnBus,
    duplicateCompletedRecorded,
    duplicateResultsIgnored,
    sideEffectsAppliedTwice,
    sideEffectsMissing,
    reExecutions,
    executions: input.executions.length,
    jobsReExecuted,
    naiveDuplicateEffects: extras(tally(input.naive)),
    lostJobs,
  };
  const problems: string[] = [];
  const must = (n: number, what: string): void => void (n > 0 && problems.push(`${n} ${what}`));
  must(lost, "jobs lost (accepted, never decided)");
  must(notAccepted, "keys never accepted by a submit");
  must(duplicateSubmits, "keys that became more than one job");
  must(unexpectedJobs, "jobs in the store that no key asked for");
  must(verdict.duplicateCompleted, "duplicate completed Results");
  must(sideEffectsAppliedTwice, "idempotent side effects applied twice");
  must(sideEffectsMissing, "completed jobs without their side effect");
  must(failed, "jobs failed");
  return { ...verdict, ok: problems.length === 0, problems };
}
