import type { Result } from "@tessera/contract";
import { invalidRequest } from "../errors.js";
import type { SqlClient, SqlExecutor } from "../sql/sql-client.js";
import {
  JOB_STATES,
  TERMINAL_STATES,
  type DeadLetterRecord,
  type JobFilter,
  type JobRecord,
  type JobState,
  type Page,
} from "../types.js";
import { GroupCommit } from "./group-commit.js";
import {
  summaryColumns,
  toDeadLetterRecord,
  toJobRecord,
  toJobSummary,
  toOutboxEntry,
  type DeadLetterRow,
  type JobRow,
  type JobSummary,
  type JobSummaryRow,
} from "./job-row.js";
import {
  emptyCounts,
  KEY_SEPARATOR,
  OUTBOX_SCAN_FACTOR,
  REDRIVE_CLOCK_TOLERANCE_MS,
  dispatchesByJob,
  SKIP_NOTHING,
  type ApplyOutcome,
  type CancelResult,
  type DeadLetterInput,
  type Dispatched,
  type DispatchRecord,
  type Inserted,
  type JobStorage,
  type NewJob,
  type OutboxEntry,
  type OutboxSkip,
  type PruneStep,
  type PruneStepOptions,
  type RedriveResult,
  type RevisionOutcomes,
} from "./job-storage.js";
import { decodeCursor, encodeCursor, pageLimit } from "./paging.js";
import { PgliteMaintenance, type MaintenanceThresholds } from "./pglite-maintenance.js";
import { jsonText } from "./storable-values.js";

/** Most submits or Results one group-committed statement carries. */
const WRITE_BATCH = 1_000;

type Settled<T> = { ok: true; value: T } | { ok: false; error: unknown };

function unwrap<T>(settled: Settled<T>): T {
  if (!settled.ok) throw settled.error;
  return settled.value;
}
/** The decided states (TERMINAL_STATES) as an SQL list. */
const DECIDED_SQL = TERMINAL_STATES.map((s) => `'${s}'`).join(", ");
/**
 * An outbox row this coordinator ($6) may publish: nobody's, its own, or held by a coordinator whose
 * presence (tessera_coordinators) has lapsed, dead or stopped.
 */
const CLAIMABLE = `(o.claimed_by IS NULL OR o.claimed_by = $6 OR NOT EXISTS (
  SELECT 1 FROM tessera_coordinators c WHERE c.id = o.claimed_by AND c.alive_until > now()))`;
/** REDRIVE_CLOCK_TOLERANCE_MS in SQL. */
const REDRIVE_CLOCK_TOLERANCE = `interval '${REDRIVE_CLOCK_TOLERANCE_MS} milliseconds'`;

/**
 * The job store in SQL, on Postgres or PGlite: every statement the coordinator runs. State transitions are
 * conditional updates (`WHERE state IN (...)`), so applying the same fact twice changes nothing the second
 * time: that is what makes the result consumer and the dead-letter flow safe to replay.
 */
export class SqlJobStore implements JobStorage {
  private readonly inserts: GroupCommit<NewJob, Settled<Inserted>>;
  private readonly results: GroupCommit<Result, Settled<ApplyOutcome>>;

  /** Only on PGlite, which has no autovacuum and no checkpointer. */
  private readonly maintenance: PgliteMaintenance | undefined;

  /**
   * The coordinator this store writes for: the outbox rows it writes are claimed by it, and its outbox reads
   * take rows that are unclaimed, its own, or claimed by a coordinator whose presence has lapsed.
   */
  readonly claimant: string;

  constructor(
    readonly sql: SqlClient,
    opts: {
      maintenance?: MaintenanceThresholds;
      onMaintenanceError?: (err: unknown) => void;
      claimant?: string;
    } = {},
  ) {
    this.claimant = opts.claimant ?? sql.origin ?? "tessera-coordinator";
    this.maintenance =
      sql.dialect === "pglite" ? new PgliteMaintenance(sql, opts.maintenance, opts.onMaintenanceError) : undefined;
    // A second write in flight keeps a pooled Postgres busy while the first one's answer travels back;
    // PGlite has one connection, so a second would only queue behind the first.
    const concurrency = sql.dialect === "postgres" ? 2 : 1;
    this.inserts = new GroupCommit((jobs) => this.insertJobs(jobs), { maxBatch: WRITE_BATCH, concurrency });
    this.results = new GroupCommit((results) => this.applyResultsSettled(results), {
      maxBatch: WRITE_BATCH,
      concurrency,
      conflictKey: (r) => r.job_id,
    });
  }

  /** Ends the store's background work (PGlite's vacuums and checkpoints): before its database is closed. */
  stopMaintenance(): Promise<void> {
    return this.maintenance?.stop() ?? Promise.resolve();
  }

  ping(): Promise<boolean> {
    return this.sql.ping();
  }

  /** Vacuums and checkpoints run so far; undefined on Postgres, which does its own. */
  get maintenanceRuns(): Readonly<PgliteMaintenance["runs"]> | undefined {
    return this.maintenance?.runs;
  }

  /**
   * Inserts the job and its outbox row; an idempotency-key match inserts neither and returns the existing
   * job. Concurrent calls are written together (group commit): one statement for the jobs and outbox
   * rows of many submits, so the database's per-statement cost is shared.
   */
  insertJob(job: NewJob): Promise<Inserted> {
    return this.inserts.add(job).then(unwrap);
  }

  private async insertJobs(jobs: NewJob[]): Promise<Array<Settled<Inserted>>> {
    let rows: Array<JobSummaryRow & { outbox_id: number }>;
    try {
      // Both inserts in one statement: atomic without a transaction's extra round trips.
      rows = (
        await this.sql.query<JobSummaryRow & { outbox_id: number }>(
          `WITH input AS (
             SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::jsonb[]) WITH ORDINALITY
                        AS i(job_id, component, limit_key, idempotency_key, envelope, ord)
           ), job AS (
             INSERT INTO tessera_jobs (job_id, component, state, limit_key, idempotency_key, envelope)
             SELECT job_id, component, 'pending', limit_key, idempotency_key, envelope FROM input ORDER BY ord
             ON CONFLICT (component, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
             RETURNING ${summaryColumns()}
           ), outbox AS (
             INSERT INTO tessera_outbox (job_id, component, limit_key, dedup_key, claimed_by)
             SELECT job.job_id, job.component, job.limit_key, job.job_id, $6 FROM job JOIN input USING (job_id) ORDER BY input.ord
             RETURNING id, job_id
           )
           SELECT job.*, outbox.id AS outbox_id FROM job JOIN outbox USING (job_id)`,
          [
            jobs.map((j) => j.envelope.job_id),
            jobs.map((j) => j.envelope.component),
            jobs.map((j) => j.limitKey),
            jobs.map((j) => j.idempotencyKey),
            jobs.map((j) => j.envelopeJson ?? JSON.stringify(j.envelope)),
            this.claimant,
          ],
          { prepareAs: "tessera_insert_jobs" },
        )
      ).rows;
    } catch (err) {
      // One bad job must not fail the submits it happened to share a statement with.
      if (jobs.length === 1) return [{ ok: false, error: err }];
      return Promise.all(jobs.map(async (j) => (await this.insertJobs([j]))[0] as Settled<Inserted>));
    }
    this.maintenance?.noteWrites(rows.length);
    const inserted = new Map(rows.map((r) => [r.job_id, r]));
    return Promise.all(
      jobs.map(async (j): Promise<Settled<Inserted>> => {
        const row = inserted.get(j.envelope.job_id);
        if (row !== undefined)
          return { ok: true, value: { job: toJobSummary(row), created: true, outboxId: row.outbox_id } };
        const existing = await this.findByIdempotencyKey(j.envelope.component, j.idempotencyKey as string);
        if (existing === undefined)
          return { ok: false, error: new Error(`idempotency conflict for key ${j.idempotencyKey} but no job found`) };
        return { ok: true, value: { job: existing, created: false } };
      }),
    );
  }

  private async insertOutbox(
    tx: SqlExecutor,
    jobId: string,
    component: string,
    limitKey: string | null,
    dedupKey: string,
  ): Promise<void> {
    await tx.query(
      `INSERT INTO tessera_outbox (job_id, component, limit_key, dedup_key, claimed_by) VALUES ($1, $2, $3, $4, $5)`,
      [jobId, component, limitKey, dedupKey, this.claimant],
    );
  }

  async findByIdempotencyKey(
    component: string,
    key: string,
    tx: SqlExecutor = this.sql,
  ): Promise<JobRecord | undefined> {
    const res = await tx.query<JobRow>(`SELECT * FROM tessera_jobs WHERE component = $1 AND idempotency_key = $2`, [
      component,
      key,
    ]);
    return res.rows[0] === undefined ? undefined : toJobRecord(res.rows[0]);
  }

  async getJob(jobId: string, tx: SqlExecutor = this.sql): Promise<JobRecord | undefined> {
    const res = await tx.query<JobRow>(`SELECT * FROM tessera_jobs WHERE job_id = $1`, [jobId]);
    return res.rows[0] === undefined ? undefined : toJobRecord(res.rows[0]);
  }

  /** Newest first; the cursor is the last row's position. */
  async listJobs(filter: JobFilter = {}): Promise<Page<JobRecord>> {
    pageLimit(filter.limit); // keeps the order of errors: a bad limit is reported before a bad state
    if (filter.state !== undefined && !JOB_STATES.includes(filter.state))
      throw invalidRequest("state", `one of ${JOB_STATES.join(", ")}`, JSON.stringify(filter.state));
    return this.pageBySeq<JobRow, JobRecord>(
      "tessera_jobs",
      { component: filter.component, state: filter.state, limit_key: filter.key },
      filter,
      toJobRecord,
    );
  }

  /**
   * The next publishes owed, fair across limit keys: rows are ranked within their (component, key) and
   * taken rank by rank, so one busy key cannot fill the batch. Keys the limiter has blocked are skipped
   * in SQL, so they cannot hide the keys behind them either. Only the oldest `scan` eligible rows are
   * ranked, which keeps a pass cheap with a long outbox; a key beyond them is reached on a later pass,
   * once the keys ahead of it are either sent or blocked. Rows in `skipIds` (held or being published by
   * the relay) are left out.
   */
  async nextOutboxBatch(
    batchSize: number,
    blockedKeys: readonly string[],
    fair: boolean,
    components: readonly string[],
    skip: OutboxSkip = SKIP_NOTHING,
  ): Promise<OutboxEntry[]> {
    const skipIds = skip.ids();
    // Only registered components: a job of a component this coordinator does not run (renamed, removed
    // from the project) waits in the outbox instead of failing every pass and holding the relay back.
    // Without per-key limits every row is its component's only key: oldest first is already fair.
    const res = await this.sql.query<{
      id: number;
      job_id: string;
      component: string;
      limit_key: string | null;
      dedup_key: string;
      envelope: string;
    }>(
      // Candidates first (fair: ranked within their key among the oldest eligible rows), then locked and
      // claimed: SKIP LOCKED leaves rows another coordinator is claiming right now, and the claim condition
      // is checked again on the locked row, so a row claimed since this statement's snapshot is left too.
      `WITH candidates AS (
         ${
           fair
             ? `SELECT id, rank FROM (
                  SELECT id, row_number() OVER (PARTITION BY component, limit_key ORDER BY id) AS rank
                    FROM (SELECT id, component, limit_key FROM tessera_outbox o
                           WHERE component = ANY($4::text[]) AND id NOT IN (SELECT unnest($5::bigint[]))
                             AND (component || '${KEY_SEPARATOR}' || coalesce(limit_key, '')) <> ALL($2::text[])
                             AND ${CLAIMABLE}
                           ORDER BY id LIMIT $3) eligible) ranked
                ORDER BY rank, id LIMIT $1`
             : `SELECT id, 0 AS rank FROM tessera_outbox o
                 WHERE component = ANY($4::text[]) AND id NOT IN (SELECT unnest($5::bigint[])) AND ${CLAIMABLE}
                   AND cardinality($2::text[]) >= 0
                 ORDER BY id LIMIT least($1, $3::int)`
         }
       ), locked AS (
         SELECT o.id FROM tessera_outbox o WHERE o.id IN (SELECT id FROM candidates) AND ${CLAIMABLE}
            FOR UPDATE OF o SKIP LOCKED
       ), claimed AS (
         UPDATE tessera_outbox o SET claimed_by = $6 FROM locked l WHERE o.id = l.id AND o.claimed_by IS DISTINCT FROM $6
       )
       SELECT o.id, o.job_id, o.component, o.limit_key, o.dedup_key, j.envelope::text AS envelope
         FROM tessera_outbox o
         JOIN locked l ON l.id = o.id
         JOIN candidates c ON c.id = o.id
         JOIN tessera_jobs j ON j.job_id = o.job_id
        ORDER BY c.rank, o.id`,
      [batchSize, fair ? blockedKeys : [], batchSize * OUTBOX_SCAN_FACTOR, components, skipIds, this.claimant],
    );
    return res.rows.map((r) => toOutboxEntry(r.id, r.dedup_key, r));
  }

  /**
   * Marks published outbox rows sent (deletes them) and records the dispatch on their jobs; a pending job
   * becomes queued. A job decided before this runs (its Result can beat this write) keeps its state, and
   * so does a job cancelled meanwhile: those come back in `settled` (and the cancelled ones, whose message
   * is now in the stream for nothing, also in `cancelled`).
   */
  async markDispatched(entries: readonly Dispatched[]): Promise<DispatchRecord> {
    if (entries.length === 0) return { queued: [], settled: [], cancelled: [] };
    const byJob = dispatchesByJob(entries, Date.now());
    // One statement: job rows locked first, in job id order (the order applyResult, recordDeadLetter and
    // cancel take them in, so a Result arriving now cannot deadlock it), then the outbox rows deleted.
    const res = await this.sql.query<JobSummaryRow & { before: JobState }>(
      `WITH input AS (
         SELECT * FROM unnest($1::text[], $2::bigint[], $4::float8[], $5::int[]) AS u(job_id, seq, age_ms, n)
       ), locked AS (
         SELECT i.job_id, i.seq, i.age_ms, i.n, j.state AS before FROM input i JOIN tessera_jobs j ON j.job_id = i.job_id ORDER BY j.job_id FOR UPDATE OF j
       ), marked AS (
         UPDATE tessera_jobs j
            SET state = CASE WHEN l.before = 'pending' THEN 'queued' ELSE j.state END,
                dispatches = j.dispatches + l.n, stream_seq = l.seq,
                dispatched_at = CASE WHEN l.before IN ('pending', 'queued') OR j.dispatched_at IS NULL THEN now() - l.age_ms * interval '1 millisecond' ELSE j.dispatched_at END,
                updated_at = CASE WHEN l.before = 'pending' THEN now() ELSE j.updated_at END
           FROM locked l
          WHERE j.job_id = l.job_id
         RETURNING ${summaryColumns("j.")}, l.before
       ), sent AS (
         DELETE FROM tessera_outbox WHERE id = ANY($3::bigint[]) AND job_id IN (SELECT job_id FROM marked)
       )
       SELECT * FROM marked`,
      [
        byJob.map((d) => d.jobId),
        byJob.map((d) => d.streamSeq),
        entries.map((e) => e.outboxId),
        byJob.map((d) => d.agoMs),
        byJob.map((d) => d.count),
      ],
      { prepareAs: "tessera_mark_dispatched" },
    );
    this.maintenance?.noteWrites(res.rows.length, res.rows.length);
    const previous = new Map(res.rows.map((r) => [r.job_id, r.before]));
    return {
      queued: res.rows.filter((r) => r.before === "pending").map(toJobSummary),
      settled: res.rows.filter((r) => r.before !== "pending" && r.before !== "queued").map((r) => r.job_id),
      cancelled: entries.filter((e) => previous.get(e.jobId) === "cancelled"),
    };
  }

  /**
   * Records a Result. Only a job still pending or queued, and not redriven after the Result finished,
   * changes; anything else (a duplicate, a Result for a cancelled job, one from before a redrive) only
   * bumps `duplicate_results`. `beforeApply` (a chain hook) runs first, and only for a Result that will be
   * applied. Results without a hook are written together with concurrent ones (group commit).
   */
  async applyResult(result: Result, beforeApply?: (job: JobRecord) => Promise<void>): Promise<ApplyOutcome> {
    if (beforeApply === undefined) return unwrap(await this.results.add(result));
    const res = await this.sql.query<JobRow & { open: boolean }>(
      `SELECT *, (state IN ('pending', 'queued') AND (redriven_at IS NULL OR redriven_at <= $3::timestamptz + ${REDRIVE_CLOCK_TOLERANCE})) AS open
         FROM tessera_jobs WHERE job_id = $1 AND component = $2`,
      [result.job_id, result.component, result.finished_at],
    );
    const current = res.rows[0];
    if (current?.open === true) await beforeApply(toJobRecord(current));
    return (await this.applyResults([result]))[0] as ApplyOutcome;
  }

  private async applyResultsSettled(results: Result[]): Promise<Array<Settled<ApplyOutcome>>> {
    try {
      return (await this.applyResults(results)).map((value) => ({ ok: true, value }));
    } catch (err) {
      // A value the database refuses (a data exception) fails its own Result, not the others in the write.
      if (results.length === 1) return [{ ok: false, error: err }];
      return Promise.all(results.map(async (r) => (await this.applyResultsSettled([r]))[0] as Settled<ApplyOutcome>));
    }
  }

  /** Results of distinct jobs: one conditional UPDATE (and outbox DELETE) for all of them. */
  private async applyResults(results: Result[]): Promise<ApplyOutcome[]> {
    // One statement, its job rows locked first in job id order (the `locked` CTE sorts before it locks), as
    // every writer here takes them: an UPDATE ... FROM alone locks in whatever order its plan visits rows,
    // which could deadlock with markDispatched. Outbox rows are deleted after their job row is locked.
    const statement = `WITH input AS (
         SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::int[], $5::text[], $6::text[], $7::jsonb[], $8::text[], $9::int[], $10::timestamptz[])
                    AS i(job_id, component, status, attempt, reason_code, reason_detail, output, instance_id, duration_ms, finished_at)
       ), locked AS (
         SELECT i.* FROM input i JOIN tessera_jobs j ON j.job_id = i.job_id ORDER BY j.job_id FOR UPDATE OF j
       ), applied AS (
         UPDATE tessera_jobs j
            SET state = l.status, attempts = l.attempt, reason_code = l.reason_code, reason_detail = l.reason_detail, output = l.output,
                instance_id = l.instance_id, duration_ms = l.duration_ms, finished_at = l.finished_at, updated_at = now()
           FROM locked l
          WHERE j.job_id = l.job_id AND j.component = l.component AND j.state IN ('pending', 'queued')
            AND (j.redriven_at IS NULL OR j.redriven_at <= l.finished_at + ${REDRIVE_CLOCK_TOLERANCE})
         RETURNING ${summaryColumns("j.")}
       ), cleared AS (
         DELETE FROM tessera_outbox WHERE job_id IN (SELECT job_id FROM applied)
       )
       SELECT * FROM applied`;
    const params = [
      results.map((r) => r.job_id),
      results.map((r) => r.component),
      results.map((r) => r.status),
      results.map((r) => r.attempt),
      results.map((r) => r.reason_code ?? null),
      results.map((r) => r.reason_detail ?? null),
      results.map((r) => (r.output === undefined ? null : jsonText(r.output))),
      results.map((r) => r.instance_id ?? null),
      results.map((r) => (r.duration_ms === undefined ? null : Math.round(r.duration_ms))),
      results.map((r) => r.finished_at),
    ];
    const rows = (await this.sql.query<JobSummaryRow>(statement, params, { prepareAs: "tessera_apply_results" })).rows;
    this.maintenance?.noteWrites(rows.length);
    const applied = new Map(rows.map((r) => [r.job_id, r]));
    return Promise.all(
      results.map(async (r): Promise<ApplyOutcome> => {
        const row = applied.get(r.job_id);
        if (row !== undefined) return { kind: "applied", job: toJobSummary(row) };
        const duplicate = await this.countDuplicate(r.job_id, r.component);
        return duplicate === undefined ? { kind: "unknown" } : { kind: "duplicate", job: duplicate };
      }),
    );
  }

  private async countDuplicate(jobId: string, component: string): Promise<JobSummary | undefined> {
    const res = await this.sql.query<JobSummaryRow>(
      `UPDATE tessera_jobs SET duplicate_results = duplicate_results + 1 WHERE job_id = $1 AND component = $2 RETURNING ${summaryColumns()}`,
      [jobId, component],
    );
    return res.rows[0] === undefined ? undefined : toJobSummary(res.rows[0]);
  }

  /**
   * Records a dead letter and fails its job with reason `dead_lettered`, in one transaction. Replaying it
   * (same component and stream sequence) changes nothing. Returns the job if it moved to failed.
   */
  async recordDeadLetter(letter: DeadLetterInput): Promise<JobRecord | undefined> {
    return this.sql.transaction(async (tx) => {
      await tx.query(
        `INSERT INTO tessera_dead_letters (component, stream_seq, job_id, deliveries, reason_code, reason_detail)
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (component, stream_seq) DO NOTHING`,
        [letter.component, letter.streamSeq, letter.jobId, letter.deliveries, letter.reasonCode, letter.reasonDetail],
      );
      const res = await tx.query<JobRow>(
        `UPDATE tessera_jobs SET state = 'failed', reason_code = $2, reason_detail = $3, attempts = $4, finished_at = now(), updated_at = now()
          WHERE job_id = $1 AND component = $5 AND state IN ('pending', 'queued') AND (stream_seq IS NULL OR stream_seq = $6)
            AND NOT EXISTS (SELECT 1 FROM tessera_dead_letters d WHERE d.component = $5 AND d.stream_seq = $6 AND d.redriven_at IS NOT NULL)
         RETURNING *`,
        [letter.jobId, letter.reasonCode, letter.reasonDetail, letter.deliveries, letter.component, letter.streamSeq],
      );
      if (res.rows[0] !== undefined) await tx.query(`DELETE FROM tessera_outbox WHERE job_id = $1`, [letter.jobId]);
      return res.rows[0] === undefined ? undefined : toJobRecord(res.rows[0]);
    });
  }

  /** failed → pending with a fresh outbox row whose dedup key the bus's duplicate window has not seen. */
  async redrive(jobId: string): Promise<RedriveResult> {
    return this.sql.transaction(async (tx) => {
      const res = await tx.query<JobRow>(
        `UPDATE tessera_jobs
            SET state = 'pending', redrives = redrives + 1, redriven_at = now(), reason_code = NULL, reason_detail = NULL,
                output = NULL, instance_id = NULL, duration_ms = NULL, finished_at = NULL, updated_at = now()
          WHERE job_id = $1 AND state = 'failed'
         RETURNING *`,
        [jobId],
      );
      const row = res.rows[0];
      if (row === undefined) {
        const job = await this.getJob(jobId, tx);
        return job === undefined ? { kind: "not_found" as const } : { kind: "not_failed" as const, job };
      }
      await this.insertOutbox(tx, row.job_id, row.component, row.limit_key, `${row.job_id}:redrive:${row.redrives}`);
      await tx.query(`UPDATE tessera_dead_letters SET redriven_at = now() WHERE job_id = $1 AND redriven_at IS NULL`, [
        jobId,
      ]);
      return { kind: "redriven" as const, job: toJobRecord(row) };
    });
  }

  /** Dead-lettered jobs of a component still waiting for a redrive. */
  async deadLetteredJobIds(component: string): Promise<string[]> {
    const res = await this.sql.query<{ job_id: string }>(
      `SELECT DISTINCT d.job_id FROM tessera_dead_letters d JOIN tessera_jobs j ON j.job_id = d.job_id
        WHERE d.component = $1 AND d.redriven_at IS NULL AND j.state = 'failed'`,
      [component],
    );
    return res.rows.map((r) => r.job_id);
  }

  /** The job whose latest dispatch sits at this stream position (for a dead letter whose message is gone). */
  async jobIdAtStreamSeq(component: string, streamSeq: number): Promise<string | undefined> {
    const res = await this.sql.query<{ job_id: string }>(
      `SELECT job_id FROM tessera_jobs WHERE component = $1 AND stream_seq = $2`,
      [component, streamSeq],
    );
    return res.rows[0]?.job_id;
  }

  /**
   * Puts every queued job back in the outbox (fresh dedup keys). For a bus that does not outlive the
   * process (the in-process bus) with a store that does: the jobs it held are gone with it.
   */
  async requeueQueued(): Promise<number> {
    const res = await this.sql.query(
      `WITH requeued AS (
         UPDATE tessera_jobs SET state = 'pending', updated_at = now() WHERE state = 'queued'
         RETURNING job_id, component, limit_key, dispatches
       )
       INSERT INTO tessera_outbox (job_id, component, limit_key, dedup_key, claimed_by)
       SELECT job_id, component, limit_key, job_id || ':restart:' || dispatches, $1 FROM requeued`,
      [this.claimant],
    );
    return res.rowCount;
  }

  async cancel(jobId: string): Promise<CancelResult> {
    return this.sql.transaction(async (tx) => {
      const before = await tx.query<{ state: JobState; stream_seq: number | null }>(
        `SELECT state, stream_seq FROM tessera_jobs WHERE job_id = $1 FOR UPDATE`,
        [jobId],
      );
      const state = before.rows[0]?.state;
      if (state === undefined) return { kind: "not_found" as const };
      if (state !== "pending" && state !== "queued")
        return { kind: "already_finished" as const, job: (await this.getJob(jobId, tx)) as JobRecord };
      const res = await tx.query<JobRow>(
        `UPDATE tessera_jobs SET state = 'cancelled', reason_code = 'cancelled', finished_at = now(), updated_at = now() WHERE job_id = $1 RETURNING *`,
        [jobId],
      );
      await tx.query(`DELETE FROM tessera_outbox WHERE job_id = $1`, [jobId]);
      return {
        kind: "cancelled" as const,
        job: toJobRecord(res.rows[0] as JobRow),
        wasQueued: state === "queued",
        streamSeq: before.rows[0]?.stream_seq ?? null,
      };
    });
  }

  async listDeadLetters(
    filter: { component?: string; cursor?: string; limit?: number } = {},
  ): Promise<Page<DeadLetterRecord>> {
    return this.pageBySeq<DeadLetterRow & { seq: number }, DeadLetterRecord>(
      "tessera_dead_letters",
      { component: filter.component },
      filter,
      toDeadLetterRecord,
    );
  }

  /**
   * One page of a table, newest first by its `seq` column, filtered by equality on the given columns
   * (undefined = no filter). The cursor is the last row's `seq`. Table and column names are ours, never input.
   */
  private async pageBySeq<R extends Record<string, unknown> & { seq: number }, T>(
    table: string,
    equals: Record<string, string | undefined>,
    page: { cursor?: string; limit?: number },
    toRecord: (row: R) => T,
  ): Promise<Page<T>> {
    const limit = pageLimit(page.limit);
    const params: unknown[] = [];
    const where: string[] = [];
    for (const [column, value] of Object.entries(equals)) {
      if (value === undefined) continue;
      params.push(value);
      where.push(`${column} = $${params.length}`);
    }
    if (page.cursor !== undefined) {
      params.push(decodeCursor("p", page.cursor));
      where.push(`seq < $${params.length}`);
    }
    params.push(limit + 1);
    const res = await this.sql.query<R>(
      `SELECT * FROM ${table} ${where.length > 0 ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY seq DESC LIMIT $${params.length}`,
      params,
    );
    const rows = res.rows.slice(0, limit);
    const last = rows.at(-1);
    return {
      items: rows.map(toRecord),
      nextCursor: res.rows.length > limit && last !== undefined ? encodeCursor("p", last.seq) : null,
    };
  }

  /**
   * One step of retention, one statement: the next `limit` jobs in creation order (the `seq` index, so no
   * index is added to the three writes every job makes), of which the decided ones recorded before `before`
   * are deleted, locked in job id order and skipping any row another writer holds (it is looked at again by
   * the next pass). A job created at or after `before` cannot have been decided before it, so the first
   * such row ends the pass: a pass reads the jobs still held from before the cutoff (those it deletes, the
   * open ones, the DLQ's, the ones decided since) plus one step, not the table. Outbox rows (a decided job
   * has none; one left behind would have the relay publish a job that is gone) and dead letters go with
   * their job.
   */
  async pruneDecided(before: Date, step: PruneStepOptions): Promise<PruneStep> {
    const res = await this.sql.query<{ deleted: number; last_seq: number | null; scanned: number; reached: boolean }>(
      `WITH scanned AS (
         SELECT seq, created_at FROM tessera_jobs WHERE seq > $2 ORDER BY seq LIMIT $3
       ), doomed AS (
         SELECT j.seq, j.job_id FROM tessera_jobs j
          WHERE j.seq IN (SELECT seq FROM scanned) AND j.state IN (${DECIDED_SQL}) AND j.updated_at < $1
            AND NOT (j.state = 'failed' AND EXISTS (SELECT 1 FROM tessera_dead_letters d WHERE d.job_id = j.job_id AND d.redriven_at IS NULL))
          ORDER BY j.job_id
            FOR UPDATE OF j SKIP LOCKED
       ), outbox AS (
         DELETE FROM tessera_outbox WHERE job_id IN (SELECT job_id FROM doomed)
       ), letters AS (
         DELETE FROM tessera_dead_letters WHERE job_id IN (SELECT job_id FROM doomed)
       ), gone AS (
         DELETE FROM tessera_jobs WHERE seq IN (SELECT seq FROM doomed) RETURNING seq
       )
       SELECT (SELECT count(*) FROM gone)::int AS deleted,
              (SELECT max(seq) FROM scanned) AS last_seq,
              (SELECT count(*) FROM scanned)::int AS scanned,
              coalesce((SELECT bool_or(created_at >= $1) FROM scanned), false) AS reached`,
      [before.toISOString(), step.after ?? 0, step.limit],
      { prepareAs: "tessera_prune_decided" },
    );
    const row = res.rows[0] as { deleted: number; last_seq: number | null; scanned: number; reached: boolean };
    this.maintenance?.noteWrites(row.deleted);
    const done = row.reached || row.scanned < step.limit || row.last_seq === null;
    return { deleted: row.deleted, next: done ? null : Number(row.last_seq) };
  }

  /** Job counts by component and state. */
  async countsByComponent(): Promise<Map<string, Record<JobState, number>>> {
    const res = await this.sql.query<{ component: string; state: JobState; n: number }>(
      `SELECT component, state, count(*)::int AS n FROM tessera_jobs GROUP BY component, state`,
    );
    const out = new Map<string, Record<JobState, number>>();
    for (const row of res.rows) {
      const counts = out.get(row.component) ?? emptyCounts();
      counts[row.state] = row.n;
      out.set(row.component, counts);
    }
    return out;
  }

  async outcomesByRevision(component: string, canaryInstancePrefix: string, since: Date): Promise<RevisionOutcomes> {
    const res = await this.sql.query<{ canary: boolean; state: "completed" | "failed"; n: number }>(
      `SELECT starts_with(instance_id, $2) AS canary, state, count(*)::int AS n FROM tessera_jobs
        WHERE component = $1 AND state IN ('completed', 'failed') AND instance_id IS NOT NULL AND finished_at >= $3
        GROUP BY 1, 2`,
      [component, canaryInstancePrefix, since.toISOString()],
    );
    const out: RevisionOutcomes = { stable: { completed: 0, failed: 0 }, canary: { completed: 0, failed: 0 } };
    for (const row of res.rows) out[row.canary ? "canary" : "stable"][row.state] = row.n;
    return out;
  }

  /** Queued jobs with a limit key: the per-key limiter's slots to restore after a restart. */
  async queuedWithKeys(): Promise<{ jobId: string; component: string; limitKey: string }[]> {
    const res = await this.sql.query<{ job_id: string; component: string; limit_key: string }>(
      `SELECT job_id, component, limit_key FROM tessera_jobs WHERE state = 'queued' AND limit_key IS NOT NULL`,
    );
    return res.rows.map((r) => ({ jobId: r.job_id, component: r.component, limitKey: r.limit_key }));
  }
}
