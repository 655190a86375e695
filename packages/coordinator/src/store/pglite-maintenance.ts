import type { SqlClient } from "../sql/sql-client.js";

export interface MaintenanceThresholds {
  /** Outbox rows deleted (jobs dispatched) between two vacuums of the outbox. Default 5,000. */
  outboxEvery?: number;
  /** Job-row writes before the job table is vacuumed: at least this many ... Default 20,000. */
  jobsMin?: number;
  /** ... and at least this share of the table's rows, so the cost per job stays flat as the table grows. Default 0.2. */
  jobsScale?: number;
  /** Job-row writes between two checkpoints. Default 30,000 (about 10,000 jobs, 40 MB of WAL). */
  checkpointEvery?: number;
}

/**
 * What Postgres's background processes would do, for PGlite, which has none: a single-user backend runs no
 * autovacuum and no checkpointer. Without this, measured over 100,000 jobs in memory:
 * - every row version a job leaves behind stays: the outbox (each row inserted, then deleted) never shrinks
 *   and the relay's reads wade through its dead rows, and the job table keeps three versions of every job;
 * - the write-ahead log is never recycled: 4.2 KB per job, 390 MB after 100,000 jobs.
 * In memory, all of it is the process's memory (1.35 GB resident after 100,000 jobs of the store alone,
 * against 0.74 GB with this); with a data directory, it is disk.
 *
 * Thresholds work like autovacuum's: the outbox every few thousand dispatches (it is small once vacuumed,
 * so that is cheap), the job table once the rows changed since its last vacuum reach a share of its size,
 * and a checkpoint every so many writes, which lets Postgres recycle the WAL segments before it. PGlite has
 * one connection, so each holds other statements back while it runs: 15-50 ms per 20,000 jobs here.
 */
export class PgliteMaintenance {
  private outboxDeletes = 0;
  private jobWrites = 0;
  private writesSinceCheckpoint = 0;
  /** The job table's row count as of its last vacuum (pg_class.reltuples, which VACUUM updates). */
  private jobRows = 0;
  private running: Promise<void> | undefined;
  private stopped = false;
  private readonly outboxEvery: number;
  private readonly jobsMin: number;
  private readonly jobsScale: number;
  private readonly checkpointEvery: number;
  /** What has run so far: what tests and operators can check. */
  readonly runs = { outboxVacuums: 0, jobVacuums: 0, checkpoints: 0 };

  constructor(
    private readonly sql: SqlClient,
    thresholds: MaintenanceThresholds = {},
    private readonly onError: (err: unknown) => void = () => undefined,
  ) {
    this.outboxEvery = thresholds.outboxEvery ?? 5_000;
    this.jobsMin = thresholds.jobsMin ?? 20_000;
    this.jobsScale = thresholds.jobsScale ?? 0.2;
    this.checkpointEvery = thresholds.checkpointEvery ?? 30_000;
  }

  /** `jobs` job rows written, `dispatched` of them with their outbox row deleted. */
  noteWrites(jobs: number, dispatched = 0): void {
    this.jobWrites += jobs;
    this.writesSinceCheckpoint += jobs;
    this.outboxDeletes += dispatched;
    if (this.running !== undefined || this.stopped) return;
    const due = {
      outbox: this.outboxDeletes >= this.outboxEvery,
      jobs: this.jobWrites >= Math.max(this.jobsMin, this.jobsScale * this.jobRows),
      checkpoint: this.writesSinceCheckpoint >= this.checkpointEvery,
    };
    if (!due.outbox && !due.jobs && !due.checkpoint) return;
    this.running = this.run(due).finally(() => (this.running = undefined));
  }

  /** Starts nothing more, and resolves once what is running (if anything) has ended: before the database closes. */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.running;
  }

  private async run(due: { outbox: boolean; jobs: boolean; checkpoint: boolean }): Promise<void> {
    // Counted from the start: writes made while it runs are partly covered by this pass, the rest by the next.
    if (due.outbox || due.jobs) this.outboxDeletes = 0;
    if (due.jobs) this.jobWrites = 0;
    if (due.checkpoint) this.writesSinceCheckpoint = 0;
    try {
      if (due.outbox || due.jobs) {
        await this.sql.query("VACUUM tessera_outbox");
        this.runs.outboxVacuums += 1;
      }
      if (due.jobs) {
        await this.sql.query("VACUUM tessera_jobs");
        this.runs.jobVacuums += 1;
        const res = await this.sql.query<{ rows: number }>(
          "SELECT reltuples::float8 AS rows FROM pg_class WHERE relname = 'tessera_jobs'",
        );
        this.jobRows = Math.max(0, res.rows[0]?.rows ?? 0);
      }
      if (due.checkpoint) {
        await this.sql.query("CHECKPOINT");
        this.runs.checkpoints += 1;
      }
    } catch (err) {
      // Nothing is lost by maintenance that did not run: the next threshold tries again.
      try {
        this.onError(err);
      } catch {
        // A throwing error hook must not leave a rejected pass behind for stop() to trip on.
      }
    }
  }
}
