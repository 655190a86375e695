import { Type, type Static } from "@sinclair/typebox";
import { JOB_STATES } from "../types.js";

/** Jobs by state, every state present (zero included), so two reports line up column for column. */
export const JobCounts = Type.Object(
  Object.fromEntries(JOB_STATES.map((s) => [s, Type.Integer({ minimum: 0 })])) as Record<
    (typeof JOB_STATES)[number],
    ReturnType<typeof Type.Integer>
  >,
);
export type JobCounts = Static<typeof JobCounts>;

/** The first line of a backup's manifest.json; a restore reads nothing it does not recognise. */
export const BACKUP_FORMAT = "tessera-backup/1";

/** What `tessera backup` writes beside the dump: the dump's own facts, taken in the dump's snapshot. */
export const BackupManifest = Type.Object(
  {
    format: Type.Literal(BACKUP_FORMAT),
    /** When the snapshot was taken (the database's clock): the backup point. */
    taken_at: Type.String(),
    /** The newest migration the dumped database had applied (job store or audit log): a restore refuses one this code does not know. */
    schema_version: Type.Integer(),
    /** The dump file, relative to the manifest. */
    dump_file: Type.String(),
    dump_bytes: Type.Integer({ minimum: 0 }),
    /** The pg_dump that wrote it (pg_restore must be the same major version or newer). */
    pg_dump_version: Type.String(),
    server_version: Type.String(),
    jobs: JobCounts,
    components: Type.Array(Type.String()),
  },
  { additionalProperties: false },
);
export type BackupManifest = Static<typeof BackupManifest>;

/** Where the bus still knew a job from: its Result, its job stream, its dead letters. */
export const BUS_PLACES = ["results", "stream", "dead_letters"] as const;
export const BusPlace = Type.Union(BUS_PLACES.map((p) => Type.Literal(p)));
export type BusPlace = Static<typeof BusPlace>;

/** A job the bus knows and the restored store does not: created after the backup point, lost by the restore. */
export const LostJob = Type.Object({
  job_id: Type.String(),
  component: Type.String(),
  found_in: Type.Array(BusPlace),
  /** Its Result's status, when the Results stream still had one. */
  result_status: Type.Optional(Type.String()),
});
export type LostJob = Static<typeof LostJob>;

/**
 * What reconciling did to each job the restored store had open (pending or queued):
 * - `result_applied`: its Result was in the Results stream (it finished after the backup point);
 * - `dead_lettered`: its message was in the dead letters;
 * - `in_stream`: its message is still in its job stream, a worker will run it (or is running it);
 * - `republished`: queued, but gone from the bus with no Result: back to pending with a fresh outbox row,
 *   which the relay publishes with mayRepeat (the worker's Result guard stops a second run);
 * - `outbox`: pending, its outbox row restored with it: the relay publishes it (mayRepeat, as a restart does).
 */
export const RECONCILE_OUTCOMES = ["result_applied", "dead_lettered", "in_stream", "republished", "outbox"] as const;
export const ReconcileOutcome = Type.Union(RECONCILE_OUTCOMES.map((o) => Type.Literal(o)));
export type ReconcileOutcome = Static<typeof ReconcileOutcome>;

export const ReconcileReport = Type.Object(
  {
    /** Jobs pending or queued in the restored store, before reconciling. */
    open_jobs: Type.Integer({ minimum: 0 }),
    outcomes: Type.Object(
      Object.fromEntries(RECONCILE_OUTCOMES.map((o) => [o, Type.Integer({ minimum: 0 })])) as Record<
        ReconcileOutcome,
        ReturnType<typeof Type.Integer>
      >,
    ),
    /** Every job the bus knows that the restored store does not, none left out. */
    lost: Type.Array(LostJob),
    /** Components whose streams were read. */
    components: Type.Array(Type.String()),
    duration_ms: Type.Number(),
  },
  { additionalProperties: false },
);
export type ReconcileReport = Static<typeof ReconcileReport>;

export const RestoreReport = Type.Object(
  {
    manifest: BackupManifest,
    database: Type.String(),
    restore_ms: Type.Number(),
    /** Absent when the restore was told not to reconcile (`--no-reconcile`). */
    reconcile: Type.Optional(ReconcileReport),
  },
  { additionalProperties: false },
);
export type RestoreReport = Static<typeof RestoreReport>;
