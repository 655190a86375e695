import type { ComponentSpec, Job, Result } from "@tessera/contract";
import type { Registry } from "prom-client";

/**
 * A job's life in the coordinator's store. The coordinator is the only writer.
 *
 * - `pending`: recorded, with an outbox row; not yet on the bus (the relay has not published it, or a
 *   per-key concurrency/rate limit holds it back).
 * - `queued`: published to the component's stream; a worker may be running it.
 * - `completed` / `failed`: a Result (or the dead-letter flow) decided it. `failed` with reason
 *   `dead_lettered` can be redriven back to `pending`.
 * - `cancelled`: cancelled before a Result arrived; a later Result is counted as late and changes nothing.
 */
export const JobState = {
  Pending: "pending",
  Queued: "queued",
  Completed: "completed",
  Failed: "failed",
  Cancelled: "cancelled",
} as const;
export type JobState = (typeof JobState)[keyof typeof JobState];
export const JOB_STATES: readonly JobState[] = Object.values(JobState);
export const TERMINAL_STATES: readonly JobState[] = [JobState.Completed, JobState.Failed, JobState.Cancelled];

/** One job as the store records it. Timestamps are ISO-8601 strings (UTC). */
export interface JobRecord {
  jobId: string;
  component: string;
  state: JobState;
  /** The per-key limit key taken from the job's metadata (see KeyLimits), if the component has one. */
  limitKey: string | null;
  idempotencyKey: string | null;
  /** The exact envelope published (and republished on redrive). */
  envelope: Job;
  /** The attempt number from the deciding Result (its delivery count), or 0 before any Result. */
  attempts: number;
  /** How many times the job went to the bus (1 + redrives). */
  dispatches: number;
  redrives: number;
  reasonCode: string | null;
  reasonDetail: string | null;
  output: Result["output"] | null;
  /** Worker instance that produced the deciding Result. */
  instanceId: string | null;
  durationMs: number | null;
  /** Results that arrived after the job was already decided (duplicates and late ones). */
  duplicateResults: number;
  createdAt: string;
  dispatchedAt: string | null;
  finishedAt: string | null;
  updatedAt: string;
}

/** Input to submit: JSON (carried inline when small) or bytes (always by reference through the payload store). */
export type SubmitInput = { json: unknown } | { text: string } | { bytes: Uint8Array };

export interface SubmitOptions {
  /** Same key (per component) returns the same job and creates nothing new. */
  idempotencyKey?: string;
  metadata?: Record<string, string>;
  /** Absolute deadline (ISO-8601 or a Date). */
  deadline?: string | Date;
  /** Overrides of the component's limits for this job. */
  limits?: { maxBytes?: number; wallClockMs?: number };
  contentType?: string;
  traceparent?: string;
}

export interface SubmitOutcome {
  jobId: string;
  /** False when the idempotency key matched an existing job. */
  created: boolean;
  state: JobState;
}

export interface JobFilter {
  component?: string;
  state?: JobState;
  /** The per-key limit key. */
  key?: string;
  /** Only jobs created at or after this instant (ISO-8601). */
  createdAfter?: string;
  /** Only jobs created before this instant (ISO-8601). */
  createdBefore?: string;
  /** Opaque cursor from a previous page's `nextCursor`. */
  cursor?: string;
  /** 1..500, default 50. */
  limit?: number;
}

export interface Page<T> {
  items: T[];
  /** Pass as `cursor` for the next page; null on the last page. */
  nextCursor: string | null;
}

export type CancelOutcome =
  { cancelled: true; job: JobRecord } | { cancelled: false; reason: "not_found" | "already_finished"; job?: JobRecord };

export interface DeadLetterRecord {
  jobId: string;
  component: string;
  deliveries: number;
  reasonCode: string;
  reasonDetail: string;
  deadLetteredAt: string;
  /** Set once the job has been redriven from this dead letter. */
  redrivenAt: string | null;
}

export type RedriveOutcome =
  { redriven: true; job: JobRecord } | { redriven: false; reason: "not_found" | "not_failed"; job?: JobRecord };

/** Per-key limits, enforced when the coordinator dispatches (publishes) jobs. */
export interface KeyLimits {
  /** The job metadata field whose value is the key, e.g. "tenant". Jobs without it share the key "". */
  key: string;
  /** At most this many jobs per key are queued or running at once. */
  concurrency?: number;
  /** At most `limit` dispatches per key per `intervalMs` (token bucket, burst = limit). */
  rate?: { limit: number; intervalMs: number };
}

/** How far a component is along: shown beside it (dashboard, `tessera components`) so nobody mistakes a trial for production. */
export const MATURITY_LEVELS = ["experimental", "beta", "stable", "deprecated"] as const;
export type Maturity = (typeof MATURITY_LEVELS)[number];

/** A component the coordinator knows: its name, its spec (defaults applied where needed) and its key limits. */
export interface ComponentRegistration {
  name: string;
  spec: ComponentSpec;
  limits?: KeyLimits;
  /** Default: experimental. */
  maturity?: Maturity;
}

export interface InstanceInfo {
  instanceId: string;
  version: string;
  inFlight: number;
  lastHeartbeatAt: string;
  /** Missed three beats: not counted as healthy. */
  stale: boolean;
}

export interface ComponentStatus {
  name: string;
  /** "declared" = registered but no healthy instance; "running" = at least one healthy instance. */
  state: "declared" | "running";
  /** Human-readable: "declared, no healthy instance" or "3 healthy instances". */
  summary: string;
  healthyInstances: number;
  instances: InstanceInfo[];
  /** pending + ackPending from the bus: the number KEDA scales on. Null when the bus could not be asked. */
  queueDepth: { pending: number; ackPending: number; total: number } | null;
  /** Jobs by state in the store. */
  jobs: Record<JobState, number>;
  limits: KeyLimits | null;
  maturity: Maturity;
  /** Jobs decided per minute over the last minutes, seen by this coordinator process (not stored). */
  activity: ComponentActivity;
}

/** Per-minute counts of decided jobs, oldest bucket first; the last bucket is the current, partial minute. */
export interface ComponentActivity {
  bucketMs: number;
  buckets: { start: string; completed: number; failed: number }[];
}

/** Who changed what through the admin API, and how it ended. */
export interface AuditEntry {
  id: number;
  at: string;
  /** e.g. `job.cancel`, `dlq.redrive`, `dlq.redrive_all`, `settings.put`. */
  action: string;
  /** The job id, component or setting name the request named. */
  target: string;
  /** The jobs it changed (redrive all: every job it redrove). */
  jobIds: string[];
  actor: { remoteAddress: string; token: boolean; userAgent: string | null };
  /** ok: done; refused: the access guard said no (401/403); failed: any other error answer. */
  outcome: "ok" | "refused" | "failed";
  status: number;
  detail: string | null;
}

export type AuditRecord = Omit<AuditEntry, "id" | "at">;

export interface AuditLog {
  record(entry: AuditRecord): Promise<AuditEntry>;
  /** Newest first. */
  list(filter?: { jobId?: string; cursor?: string; limit?: number }): Promise<Page<AuditEntry>>;
}

/** A job's output as bytes: its inline data (as JSON, or text) or the object its `result_ref` names. */
export interface JobOutputBytes {
  bytes: Uint8Array;
  contentType: string;
}

/** Who recorded a job event: this coordinator, or another replica sharing its database. */
export type JobEventOrigin = "here" | "elsewhere";

export interface JobEvent {
  jobId: string;
  component: string;
  state: JobState;
  reasonCode: string | null;
  at: string;
}

export interface CoordinatorHealth {
  live: boolean;
  ready: boolean;
  checks: { store: boolean; bus: boolean; consumers: boolean };
}

export interface CoordinatorCounters {
  submitted: number;
  published: number;
  resultsApplied: number;
  duplicateResults: number;
  invalidResults: number;
  deadLettered: number;
  redriven: number;
}

/** What a `onCompleted` hook may do: submit follow-up jobs (idempotent by parent job, so a replay submits nothing twice). */
export interface ChainContext {
  job: JobRecord;
  result: Result;
  /** The Result's output bytes (inline data as JSON/text bytes, or read from the payload store). */
  outputBytes(): Promise<Uint8Array>;
  submit(
    component: string,
    input: SubmitInput,
    opts?: Omit<SubmitOptions, "idempotencyKey"> & { idempotencyKey?: string },
  ): Promise<SubmitOutcome>;
}
export type ChainHook = (ctx: ChainContext) => Promise<void> | void;

export interface Coordinator {
  submit(component: string, input: SubmitInput, opts?: SubmitOptions): Promise<SubmitOutcome>;
  getJob(jobId: string): Promise<JobRecord | undefined>;
  listJobs(filter?: JobFilter): Promise<Page<JobRecord>>;
  cancel(jobId: string): Promise<CancelOutcome>;
  listDeadLetters(filter?: { component?: string; cursor?: string; limit?: number }): Promise<Page<DeadLetterRecord>>;
  redrive(jobId: string): Promise<RedriveOutcome>;
  /** Redrives every dead-lettered, not yet redriven job of a component; returns their ids. */
  redriveAll(component: string): Promise<string[]>;
  components(): Promise<ComponentStatus[]>;
  component(name: string): Promise<ComponentStatus | undefined>;
  health(): Promise<CoordinatorHealth>;
  counters(): CoordinatorCounters;
  /** The coordinator's Prometheus metrics (served by the admin API at `/metrics`). */
  readonly metrics: Registry;
  /** The job's output (undefined when the job does not exist or has none). */
  jobOutput(jobId: string): Promise<JobOutputBytes | undefined>;
  /** Changes made through the admin API. */
  readonly audit: AuditLog;
  /**
   * Job state changes as they are recorded (for `jobs watch`, SSE), by this coordinator ("here") or by
   * another replica on the same database ("elsewhere"). Returns an unsubscribe function.
   */
  onJobEvent(listener: (event: JobEvent, origin: JobEventOrigin) => void): () => void;
  /** Resolves with the job once it is completed, failed or cancelled. */
  waitForJob(jobId: string, opts?: { timeoutMs?: number }): Promise<JobRecord>;
  readonly settings: SettingsView;
  /** This coordinator's id among the replicas sharing its store (`tessera:<uuid>`). */
  readonly id: string;
  close(): Promise<void>;
}

export type SettingCategory = "bootstrap" | "operational" | "shared";
export type SettingSource = "env" | "file" | "db" | "default";

export interface ResolvedSetting {
  name: string;
  category: SettingCategory;
  value: unknown;
  source: SettingSource;
  description: string;
  /** The environment variable that overrides it. */
  env: string;
  /** A secret's value is never shown: `value` is "(set)" or null. */
  secret?: boolean;
}

/** Names a setting and the type of its value (`T` is carried by the type only: `read` returns it). */
export interface SettingKey<T> {
  readonly name: string;
  readonly valueType?: T;
}

export interface SettingsView {
  list(): ResolvedSetting[];
  get(name: string): ResolvedSetting | undefined;
  /** A setting's value, typed by its key (e.g. `RELAY_BATCH_SIZE`: a number). */
  read<T>(key: SettingKey<T>): T;
  /** The value of a secret setting (shown redacted by list and get), or undefined when unset. */
  secret(name: string): string | undefined;
  /** Writes an operational or shared setting to the DB. Refused for bootstrap settings. */
  set(name: string, value: unknown): Promise<ResolvedSetting>;
}
