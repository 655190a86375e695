import type { ConnectionService } from "@tessera/connectors";
import type { GatewayControl } from "./gateway/gateway-control.js";
import type { ComponentSpec, Result, SourceLocator } from "@tessera/contract";
import type { Registry } from "prom-client";
import type {
  AuditEntry,
  ComponentStatus,
  CoordinatorCounters,
  CoordinatorHealth,
  DeadLetterRecord,
  JobEvent,
  JobFilter,
  JobRecord,
  KeyLimits,
  Page,
  ResolvedSetting,
  SubmitOutcome,
} from "@tessera/client/schemas";

/*
 * What the admin API answers with (JobRecord, ComponentStatus, Page, ...) is derived from its TypeBox schemas
 * in @tessera/client and re-exported here under the same names; this file holds the coordinator's own
 * shapes (options, outcomes, the Coordinator interface).
 */
export {
  JOB_STATES,
  JobState,
  MATURITY_LEVELS,
  TERMINAL_STATES,
  type AuditEntry,
  type ComponentActivity,
  type ComponentStatus,
  type CoordinatorCounters,
  type CoordinatorHealth,
  type DeadLetterRecord,
  type InstanceInfo,
  type JobFilter,
  type JobEvent,
  type JobRecord,
  type KeyLimits,
  type Maturity,
  type Page,
  type ResolvedSetting,
  type SettingCategory,
  type SettingSource,
  type SubmitOutcome,
} from "@tessera/client/schemas";

/**
 * Input to submit: JSON (carried inline when small), bytes (always by reference through the payload store), or
 * where to fetch it from (a fetch-controlled component only: the coordinator fetches it before dispatch).
 */
export type SubmitInput =
  { json: unknown } | { text: string } | { bytes: Uint8Array } | { source_locator: SourceLocator };

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

export type CancelOutcome =
  { cancelled: true; job: JobRecord } | { cancelled: false; reason: "not_found" | "already_finished"; job?: JobRecord };

export type RedriveOutcome =
  { redriven: true; job: JobRecord } | { redriven: false; reason: "not_found" | "not_failed"; job?: JobRecord };

/** A component the coordinator knows: its name, its spec (defaults applied where needed; its maturity too) and its key limits. */
export interface ComponentRegistration {
  name: string;
  spec: ComponentSpec;
  limits?: KeyLimits;
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
  /**
   * Users' connections to providers (begin, callback, list, disconnect), when `connectors` were configured:
   * what the admin API's connection routes call.
   */
  readonly connections?: ConnectionService;
  /** The gateway's control plane (decision 0042): what the admin API's gateway routes call. */
  readonly gateway: GatewayControl;
  close(): Promise<void>;
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
  /** `text` with every secret setting's value scrubbed out (error bodies, messages quoting a request). */
  scrub(text: string): string;
  /** The value of a secret setting (shown redacted by list and get), or undefined when unset. */
  secret(name: string): string | undefined;
  /** Writes an operational or shared setting to the DB. Refused for bootstrap settings. */
  set(name: string, value: unknown): Promise<ResolvedSetting>;
}
