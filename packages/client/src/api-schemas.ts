import { CloneType, Type, type Static, type TInteger } from "@sinclair/typebox";
import {
  CONFIG_CLASSES,
  JobSchema,
  MATURITY_LEVELS,
  ResultSchema,
  type ConfigClass,
  type Maturity,
  type Result,
} from "@tessera/contract";
import {
  ConnectionBeginSchema,
  ConnectionCallbackSchema,
  ConnectionListSchema,
  ConnectionSchema,
  DisconnectOutcomeSchema,
} from "./connection-schemas.js";
import {
  GatewayAccountListSchema,
  GatewayAccountSchema,
  GatewayHealthSchema,
  GatewayInstallSchema,
  GatewaySealedSchema,
  GatewayStreamHealthSchema,
  GatewayTenantListSchema,
  GatewayTenantSchema,
} from "./gateway-schemas.js";
import { named, nullable, ref, timestamp, type Named } from "./schema-naming.js";

export { ref } from "./schema-naming.js";
export * from "./connection-schemas.js";
export * from "./gateway-schemas.js";

/*
 * The admin API's schemas: the coordinator validates requests and serializes responses with them and
 * documents them in /openapi.json; the types below are derived from them with `Static`, so a response
 * shape is written once (docs/decisions/0021-admin-api-types-and-client.md).
 *
 * Request schemas are inlined into their routes (Ajv's errors then point into them directly); response
 * schemas carry an `$id`, are registered once with `addSchema` and referenced with `ref()`, so the OpenAPI
 * document names them (`#/components/schemas/JobRecord`) for the dashboard's generated types.
 */

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

/** How far a component is along (its spec's `maturity`): shown beside it so nobody mistakes a trial for production. */
export { MATURITY_LEVELS, type Maturity };

/** The `code` of every error body, by class of failure. */
export const ERROR_CODES = [
  "invalid_request",
  "unauthorized",
  "forbidden",
  "not_found",
  "conflict",
  "payload_too_large",
  "unavailable",
  "bad_gateway",
  "internal",
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

/**
 * The largest request body the admin API accepts (a submit's base64 input included); larger is a 413. Large
 * enough for a base64 document submitted inline; anything bigger belongs in the payload store.
 */
export const ADMIN_BODY_LIMIT_BYTES = 16 * 1024 * 1024;

/** The largest page the list routes serve (`limit` is 1..MAX_PAGE_SIZE, default 50). */
export const MAX_PAGE_SIZE = 500;

const jobState = (description: string) => Type.Unsafe<JobState>({ type: "string", enum: [...JOB_STATES], description });

// ---- responses ------------------------------------------------------------------------------------

export const ErrorBodySchema = named(
  "Error",
  Type.Object(
    {
      error: Type.Object({
        code: Type.Unsafe<(typeof ERROR_CODES)[number]>({
          type: "string",
          enum: [...ERROR_CODES],
          description: "Machine-readable class of the failure",
        }),
        message: Type.String({ description: "Human-readable; names the field and the problem for invalid requests" }),
        issues: Type.Optional(
          Type.Array(
            Type.Object({
              path: Type.String({
                description:
                  "Where the problem is: `body.component`, `query.limit`, `params.jobId` (or a contract path such as `metadata`)",
              }),
              expected: Type.String({ description: "What would have been accepted" }),
              received: Type.String({ description: "What arrived instead" }),
            }),
            { description: "One entry per bad field (invalid_request only)" },
          ),
        ),
        reason: Type.Optional(
          Type.String({
            description:
              "The specific cause: `already_finished` (cancel) or `not_failed` (redrive); for connections `connectors_not_configured`, `unknown_provider`, `not_connected`, `needs_reauth`, `invalid_state`, `authorization_denied`, `provider_unavailable`, `provider_error`",
          }),
        ),
      }),
    },
    { description: "Body of every 4xx/5xx response" },
  ),
);

export const JobEnvelopeSchema = named(
  "JobEnvelope",
  Type.Object(JobSchema.properties, {
    additionalProperties: false,
    description: "The Job envelope exactly as published on the bus (see docs/contract.md)",
  }),
);

const JobOutput = ResultSchema.properties.output;

export const JobRecordSchema = named(
  "JobRecord",
  Type.Object(
    {
      jobId: Type.String(),
      component: Type.String(),
      state: jobState(
        "pending: recorded, not yet on the bus; queued: published, a worker may be running it; completed/failed: decided by a Result or dead-lettered; cancelled: cancelled before a Result",
      ),
      limitKey: nullable(
        Type.String(),
        "The per-key limit key taken from the job's metadata, if the component has key limits",
      ),
      idempotencyKey: nullable(Type.String()),
      envelope: ref(JobEnvelopeSchema),
      attempts: Type.Integer({
        minimum: 0,
        description: "Delivery attempt of the deciding Result; 0 before any Result",
      }),
      dispatches: Type.Integer({ minimum: 0, description: "How many times the job went to the bus (1 + redrives)" }),
      redrives: Type.Integer({ minimum: 0 }),
      reasonCode: nullable(Type.String(), "Reason code of a failed (or dead-lettered) job"),
      reasonDetail: nullable(Type.String()),
      // Typed as the contract types a Result's output, which the store's row mappers assign as is (its
      // `undefined` never reaches the wire: the store holds null for a job without output).
      output: Type.Unsafe<Result["output"] | null>(
        nullable(JobOutput, "The deciding Result's output: inline `data` or a `result_ref` into the payload store"),
      ),
      instanceId: nullable(Type.String(), "Worker instance that produced the deciding Result"),
      durationMs: nullable(Type.Number({ minimum: 0 })),
      duplicateResults: Type.Integer({
        minimum: 0,
        description: "Results that arrived after the job was already decided",
      }),
      createdAt: timestamp("When the job was recorded"),
      dispatchedAt: nullable(Type.String({ format: "date-time" }), "When the job was last published"),
      finishedAt: nullable(Type.String({ format: "date-time" }), "When the job was completed, failed or cancelled"),
      updatedAt: timestamp("Last change to the record"),
    },
    { description: "One job as the coordinator's store records it" },
  ),
);

export const KeyLimitsSchema = named(
  "KeyLimits",
  Type.Object(
    {
      key: Type.String({
        description: 'The job metadata field whose value is the key, e.g. "tenant"; jobs without it share the key ""',
      }),
      concurrency: Type.Optional(
        Type.Integer({ minimum: 1, description: "At most this many jobs per key queued or running at once" }),
      ),
      rate: Type.Optional(
        Type.Object(
          { limit: Type.Integer({ minimum: 1 }), intervalMs: Type.Integer({ minimum: 1 }) },
          { description: "At most `limit` dispatches per key per `intervalMs` (token bucket, burst = limit)" },
        ),
      ),
    },
    { description: "Per-key limits, enforced when the coordinator dispatches jobs" },
  ),
);

export const ComponentActivitySchema = named(
  "ComponentActivity",
  Type.Object(
    {
      bucketMs: Type.Integer({ minimum: 1, description: "Length of one bucket (60000: a minute)" }),
      buckets: Type.Array(
        Type.Object({
          start: timestamp("Start of the bucket"),
          completed: Type.Integer({ minimum: 0, description: "Jobs that completed in it" }),
          failed: Type.Integer({ minimum: 0, description: "Jobs that failed (or were dead-lettered) in it" }),
        }),
        { description: "Oldest first; the last is the current, partial bucket" },
      ),
    },
    {
      description:
        "Decided jobs per minute over the last minutes, counted in this coordinator process's memory (a restart starts from zero)",
    },
  ),
);

const revisionOutcomes = (who: string) =>
  Type.Object(
    {
      completed: Type.Integer({ minimum: 0, description: "Completed Results" }),
      failed: Type.Integer({ minimum: 0, description: "Failed Results" }),
    },
    { description: `Results produced by instances of ${who}` },
  );

export const ComponentStatusSchema = named(
  "ComponentStatus",
  Type.Object(
    {
      name: Type.String(),
      state: Type.Unsafe<"declared" | "running">({
        type: "string",
        enum: ["declared", "running"],
        description: "declared: registered, no healthy instance; running: at least one healthy instance",
      }),
      summary: Type.String({
        description: 'Human-readable, e.g. "declared, no healthy instance" or "3 healthy instances"',
      }),
      healthyInstances: Type.Integer({ minimum: 0 }),
      instances: Type.Array(
        Type.Object({
          instanceId: Type.String(),
          version: Type.String(),
          inFlight: Type.Integer({ minimum: 0, description: "Jobs the instance is running" }),
          lastHeartbeatAt: timestamp("Last heartbeat received"),
          stale: Type.Boolean({ description: "Missed three heartbeats; not counted as healthy" }),
        }),
        { description: "Instances seen through their heartbeats" },
      ),
      queueDepth: nullable(
        Type.Object({
          pending: Type.Integer({ minimum: 0 }),
          ackPending: Type.Integer({ minimum: 0 }),
          total: Type.Integer({ minimum: 0 }),
        }),
        "pending + ackPending from the bus (what autoscaling follows); null when the bus could not be asked",
      ),
      jobs: Type.Object(
        Object.fromEntries(JOB_STATES.map((s) => [s, Type.Integer({ minimum: 0 })])) as Record<JobState, TInteger>,
        {
          description: "Jobs in the store by state",
        },
      ),
      limits: nullable(ref(KeyLimitsSchema)),
      maturity: Type.Unsafe<Maturity>({
        type: "string",
        enum: [...MATURITY_LEVELS],
        description: "How far along the component is (from the project; default experimental)",
      }),
      activity: ref(ComponentActivitySchema),
      revisions: Type.Optional(
        Type.Object(
          {
            windowMs: Type.Integer({ minimum: 1, description: "How far back Results are counted" }),
            stable: revisionOutcomes("the component's own Deployment"),
            canary: revisionOutcomes("its canary Deployment (`<name>.canary`)"),
          },
          {
            description:
              "Results over the last minutes by the revision of the instance that produced them; present while the component has a canary instance (docs/deploy.md#canary)",
          },
        ),
      ),
    },
    { description: "A registered component, its instances, queue depth and jobs" },
  ),
);

export const DeadLetterRecordSchema = named(
  "DeadLetterRecord",
  Type.Object(
    {
      jobId: Type.String(),
      component: Type.String(),
      deliveries: Type.Integer({ minimum: 0, description: "Deliveries made before the job was given up on" }),
      reasonCode: Type.String(),
      reasonDetail: Type.String(),
      deadLetteredAt: timestamp("When the job was dead-lettered"),
      redrivenAt: nullable(
        Type.String({ format: "date-time" }),
        "Set once the job has been redriven from this dead letter",
      ),
    },
    { description: "A job that exhausted its deliveries or was otherwise given up on" },
  ),
);

function page<T extends Named>(item: T, $id: string) {
  return named(
    $id,
    Type.Object(
      {
        items: Type.Array(ref(item)),
        nextCursor: nullable(Type.String(), "Pass as `cursor` for the next page; null on the last page"),
      },
      { description: `One page of ${item.$id} records` },
    ),
  );
}
export const JobPageSchema = page(JobRecordSchema, "JobPage");
export const DeadLetterPageSchema = page(DeadLetterRecordSchema, "DeadLetterPage");

export const SubmitOutcomeSchema = named(
  "SubmitOutcome",
  Type.Object({
    jobId: Type.String(),
    created: Type.Boolean({
      description: "False when the idempotency key matched an existing job (the response is then 200, not 201)",
    }),
    state: jobState("The job's state right after the submit"),
  }),
);

export const CoordinatorHealthSchema = named(
  "CoordinatorHealth",
  Type.Object({
    live: Type.Boolean(),
    ready: Type.Boolean({ description: "All checks pass" }),
    checks: Type.Object({
      store: Type.Boolean({ description: "The database answers" }),
      bus: Type.Boolean({ description: "The bus connection is up" }),
      consumers: Type.Boolean({ description: "The Results and advisory consumers are running" }),
    }),
  }),
);

export const ResolvedSettingSchema = named(
  "ResolvedSetting",
  Type.Object(
    {
      name: Type.String(),
      category: Type.Unsafe<"bootstrap" | "operational" | "shared">({
        type: "string",
        enum: ["bootstrap", "operational", "shared"],
        description:
          "bootstrap: read at start-up, not writable here; operational: the coordinator's own; shared: stamped into jobs",
      }),
      value: Type.Unknown({ description: "The value in force" }),
      source: Type.Unsafe<"env" | "file" | "db" | "default">({
        type: "string",
        enum: ["env", "file", "db", "default"],
        description: "Where the value came from",
      }),
      description: Type.String(),
      env: Type.String({ description: "The environment variable that overrides it" }),
      class: Type.Unsafe<ConfigClass>({
        type: "string",
        enum: [...CONFIG_CLASSES],
        description:
          'Who may see the value: public (anyone), internal (operators), secret (nobody: the value is "(set)" or null), local-only (refused outside local)',
      }),
    },
    { description: "A setting with the value in force and where it came from" },
  ),
);

export const CoordinatorCountersSchema = named(
  "CoordinatorCounters",
  Type.Object(
    {
      submitted: Type.Integer({ minimum: 0 }),
      published: Type.Integer({ minimum: 0 }),
      resultsApplied: Type.Integer({ minimum: 0 }),
      duplicateResults: Type.Integer({ minimum: 0 }),
      invalidResults: Type.Integer({ minimum: 0 }),
      deadLettered: Type.Integer({ minimum: 0 }),
      redriven: Type.Integer({ minimum: 0 }),
    },
    { description: "Counts since this coordinator process started" },
  ),
);

export const JobEventSchema = named(
  "JobEvent",
  Type.Object(
    {
      jobId: Type.String(),
      component: Type.String(),
      state: jobState("The state the job changed to"),
      reasonCode: nullable(Type.String()),
      at: timestamp("When the change was recorded"),
    },
    { description: "A job state change, as sent in the `data` of each `job` server-sent event" },
  ),
);

export const AuditEntrySchema = named(
  "AuditEntry",
  Type.Object(
    {
      id: Type.Integer({ minimum: 1 }),
      at: timestamp("When the request was answered"),
      action: Type.String({
        description:
          "job.cancel, dlq.redrive, dlq.redrive_all, settings.put, connection.begin, connection.finish (the OAuth callback) or connection.disconnect",
      }),
      target: Type.String({
        description: "The job id, component or setting the request named, or a connection (`provider:userId`)",
      }),
      jobIds: Type.Array(Type.String(), { description: "The jobs it changed or tried to change" }),
      actor: Type.Object({
        remoteAddress: Type.String({ description: "The client's address as the server saw it" }),
        token: Type.Boolean({ description: "The request carried the valid admin token" }),
        userAgent: nullable(Type.String()),
      }),
      outcome: Type.Unsafe<"ok" | "refused" | "failed">({
        type: "string",
        enum: ["ok", "refused", "failed"],
        description: "ok: done; refused: the access rules said no (401/403); failed: any other error answer",
      }),
      status: Type.Integer({ description: "The HTTP status answered" }),
      detail: nullable(Type.String(), "The error message, when it did not succeed"),
    },
    { description: "One change requested through the admin API" },
  ),
);

export const AuditPageSchema = page(AuditEntrySchema, "AuditPage");

export const AccessInfoSchema = named(
  "AccessInfo",
  Type.Object(
    {
      mode: Type.Unsafe<"open" | "token" | "read_only">({
        type: "string",
        enum: ["open", "token", "read_only"],
        description:
          "open: loopback without a token, changes allowed; token: changes need the admin token; read_only: not on loopback and no token configured",
      }),
      canChange: Type.Boolean({ description: "This request (with the Authorization it carried) may change state" }),
      tokenAccepted: Type.Boolean({ description: "The request carried the valid admin token" }),
      message: Type.String({ description: "Why, in words for the dashboard" }),
    },
    { description: "What the caller may do through this admin API" },
  ),
);

/*
 * Unnamed wrappers some routes answer with (inlined into the OpenAPI document where they are used). Each
 * route calls its function, so no two routes share one schema object.
 */
export const componentListResponse = () => Type.Object({ items: Type.Array(ref(ComponentStatusSchema)) });
export const settingListResponse = () => Type.Object({ items: Type.Array(ref(ResolvedSettingSchema)) });
/** The answer of a cancel or a redrive: the job as it is now. */
export const jobChangeResponse = () => Type.Object({ job: ref(JobRecordSchema) });
export const redriveAllResponse = () =>
  Type.Object({ jobIds: Type.Array(Type.String(), { description: "The jobs sent back to pending" }) });

/** Every named schema, in dependency order, for `addSchema` (or a client's own validator). */
export const NAMED_SCHEMAS: readonly Named[] = [
  ErrorBodySchema,
  JobEnvelopeSchema,
  JobRecordSchema,
  KeyLimitsSchema,
  ComponentActivitySchema,
  ComponentStatusSchema,
  DeadLetterRecordSchema,
  JobPageSchema,
  DeadLetterPageSchema,
  SubmitOutcomeSchema,
  CoordinatorHealthSchema,
  ResolvedSettingSchema,
  CoordinatorCountersSchema,
  JobEventSchema,
  AuditEntrySchema,
  AuditPageSchema,
  AccessInfoSchema,
  ConnectionSchema,
  ConnectionListSchema,
  ConnectionBeginSchema,
  DisconnectOutcomeSchema,
  ConnectionCallbackSchema,
  GatewayAccountSchema,
  GatewayAccountListSchema,
  GatewayTenantSchema,
  GatewayTenantListSchema,
  GatewayStreamHealthSchema,
  GatewayHealthSchema,
  GatewaySealedSchema,
  GatewayInstallSchema,
];

// ---- types derived from the schemas ----------------------------------------------------------------

/** The body of every 4xx/5xx response. */
export type ErrorBody = Static<typeof ErrorBodySchema>;
/** One field a request got wrong: where, what would have been accepted, what arrived. */
export type ApiIssue = NonNullable<ErrorBody["error"]["issues"]>[number];
/** One job as the coordinator's store records it. Timestamps are ISO-8601 strings (UTC). */
export type JobRecord = Static<typeof JobRecordSchema>;
/** Per-key limits, enforced when the coordinator dispatches (publishes) jobs. */
export type KeyLimits = Static<typeof KeyLimitsSchema>;
/** Per-minute counts of decided jobs, oldest bucket first; the last bucket is the current, partial minute. */
export type ComponentActivity = Static<typeof ComponentActivitySchema>;
/** A registered component, its instances, queue depth and jobs. */
export type ComponentStatus = Static<typeof ComponentStatusSchema>;
/** One instance of a component, seen through its heartbeats. */
export type InstanceInfo = ComponentStatus["instances"][number];
/** A job that exhausted its deliveries or was otherwise given up on. */
export type DeadLetterRecord = Static<typeof DeadLetterRecordSchema>;
/** One page of a list; pass `nextCursor` as `cursor` for the next (null on the last page). */
export type Page<T> = Omit<Static<typeof JobPageSchema>, "items"> & { items: T[] };
export type SubmitOutcome = Static<typeof SubmitOutcomeSchema>;
export type CoordinatorHealth = Static<typeof CoordinatorHealthSchema>;
/** A setting with the value in force and where it came from. */
export type ResolvedSetting = Static<typeof ResolvedSettingSchema>;
export type SettingCategory = ResolvedSetting["category"];
export type SettingSource = ResolvedSetting["source"];
/** Counts since the coordinator process started. */
export type CoordinatorCounters = Static<typeof CoordinatorCountersSchema>;
/** A job state change, as sent in the `data` of each `job` server-sent event. */
export type JobEvent = Static<typeof JobEventSchema>;
/** Who changed what through the admin API, and how it ended. */
export type AuditEntry = Static<typeof AuditEntrySchema>;
export type AccessInfo = Static<typeof AccessInfoSchema>;

// ---- requests -------------------------------------------------------------------------------------

const NonEmpty = (description?: string) =>
  Type.String({ minLength: 1, ...(description === undefined ? {} : { description }) });

export const SubmitJobBody = Type.Object(
  {
    component: NonEmpty("Name of a registered component"),
    input: Type.Object(
      {
        json: Type.Optional(
          Type.Unknown({ description: "Any JSON value; inline in the envelope up to 64 KiB, by reference beyond" }),
        ),
        text: Type.Optional(
          Type.String({ description: "Text; inline in the envelope up to 64 KiB (UTF-8), by reference beyond" }),
        ),
        base64: Type.Optional(
          // Checked by isPaddedBase64 (validator-compiler.ts), so a bad payload is a 400 naming the field.
          Type.String({
            format: "byte",
            description: "standard padded base64 (RFC 4648); the decoded bytes always travel by reference",
          }),
        ),
        source_locator: CloneType(JobSchema.properties.input.properties.source_locator, {
          description:
            "Where the coordinator fetches the input from (fetch-controlled components only), through its egress guard, before the job is dispatched; the component gets the bytes by reference",
        }),
      },
      {
        additionalProperties: false,
        minProperties: 1,
        maxProperties: 1,
        description: "Exactly one of json, text, base64 or source_locator",
      },
    ),
    idempotencyKey: Type.Optional(NonEmpty("Same key (per component) returns the existing job and creates nothing")),
    metadata: Type.Optional(
      Type.Record(Type.String(), Type.String(), { description: "String key/value pairs carried in the envelope" }),
    ),
    deadline: Type.Optional(
      Type.String({ format: "date-time", description: "Absolute deadline, RFC 3339 with a time zone" }),
    ),
    limits: Type.Optional(
      Type.Object(
        {
          maxBytes: Type.Optional(
            Type.Integer({ minimum: 1, description: "Largest input the worker will read, in bytes" }),
          ),
          wallClockMs: Type.Optional(Type.Integer({ minimum: 1, description: "Milliseconds the handler may run" })),
        },
        { additionalProperties: false, description: "Overrides of the component's limits for this job" },
      ),
    ),
    contentType: Type.Optional(
      Type.String({
        ...JobSchema.properties.content_type,
        description: "Media type of the input, e.g. application/pdf",
      }),
    ),
  },
  { additionalProperties: false },
);
export type SubmitJobBody = Static<typeof SubmitJobBody>;

/** A caller's trace context, carried into the job envelope so the worker's spans join the caller's trace. */
export const SubmitJobHeaders = Type.Object({ traceparent: JobSchema.properties.traceparent });
export type SubmitJobHeaders = Static<typeof SubmitJobHeaders>;

/** A job id as the contract defines it, so a malformed one (NUL, too long) is a 400 naming the parameter. */
const JobId = JobSchema.properties.job_id;

const PageLimit = Type.Integer({ minimum: 1, maximum: MAX_PAGE_SIZE, default: 50, description: "Page size" });
const Cursor = NonEmpty("`nextCursor` of the previous page");

export const ListJobsQuery = Type.Object(
  {
    component: Type.Optional(NonEmpty()),
    state: Type.Optional(jobState("Only jobs in this state")),
    key: Type.Optional(Type.String({ description: "Only jobs with this per-key limit key" })),
    createdAfter: Type.Optional(
      Type.String({ format: "date-time", description: "Only jobs created at or after this instant (RFC 3339)" }),
    ),
    createdBefore: Type.Optional(
      Type.String({
        format: "date-time",
        description:
          "Only jobs created before this instant (RFC 3339). With a time range a page may hold fewer than `limit` jobs; follow `nextCursor`",
      }),
    ),
    cursor: Type.Optional(Cursor),
    limit: Type.Optional(PageLimit),
  },
  { additionalProperties: false },
);
export type ListJobsQuery = Static<typeof ListJobsQuery>;
/** Which jobs to list (the query of `GET /api/v1/jobs`). */
export type JobFilter = ListJobsQuery;

export const ListDeadLettersQuery = Type.Object(
  { component: Type.Optional(NonEmpty()), cursor: Type.Optional(Cursor), limit: Type.Optional(PageLimit) },
  { additionalProperties: false },
);
export type ListDeadLettersQuery = Static<typeof ListDeadLettersQuery>;
/** Which dead letters to list (the query of `GET /api/v1/dlq`). */
export type DeadLetterFilter = ListDeadLettersQuery;

export const ListAuditQuery = Type.Object(
  {
    jobId: Type.Optional(JobId),
    cursor: Type.Optional(Cursor),
    limit: Type.Optional(PageLimit),
  },
  { additionalProperties: false },
);
export type ListAuditQuery = Static<typeof ListAuditQuery>;

export const JobEventsQuery = Type.Object(
  {
    component: Type.Optional(NonEmpty("Only this component's jobs")),
    jobId: Type.Optional(JobId),
  },
  { additionalProperties: false },
);
export type JobEventsQuery = Static<typeof JobEventsQuery>;

export const JobIdParams = Type.Object({ jobId: JobId });
export type JobIdParams = Static<typeof JobIdParams>;

export const NameParams = Type.Object({ name: NonEmpty() });
export type NameParams = Static<typeof NameParams>;

export const RedriveAllBody = Type.Object(
  { component: NonEmpty("Redrive every dead-lettered, not yet redriven job of this component") },
  { additionalProperties: false },
);
export type RedriveAllBody = Static<typeof RedriveAllBody>;

export const PutSettingBody = Type.Object(
  { value: Type.Unknown({ description: "The new value (any JSON)" }) },
  { additionalProperties: false },
);
export type PutSettingBody = Static<typeof PutSettingBody>;
