import { randomUUID } from "node:crypto";
import type { Bus, CoordinatorMembership, ResultEvent, Subscription } from "@tessera/bus";
import { ReasonCode, sanitizeReasonDetail, type Result } from "@tessera/contract";
import type { Logger } from "pino";
import type { Registry } from "prom-client";
import { ActivityCounter } from "./activity/activity-counter.js";
import { chainIdempotencyKey } from "./chain-key.js";
import { LocalLimiter, SharedLimiter, type DispatchLimiter } from "./dispatch/dispatch-limiter.js";
import { limitKeyOf } from "./dispatch/key-limiter.js";
import { OutboxRelay } from "./dispatch/outbox-relay.js";
import { handleExhausted } from "./dead-letters/dead-letter-flow.js";
import { CoordinatorError, invalidRequest, unknownComponent } from "./errors.js";
import { componentSummary, InstanceRegistry } from "./heartbeats/instance-registry.js";
import { listInTimeRange } from "./jobs/list-in-time-range.js";
import { CoordinatorMetrics } from "./metrics/coordinator-metrics.js";
import { ReplicaSet, type RemoteJobEvent } from "./replicas/replica-set.js";
import { ReplicaStore } from "./replicas/replica-store.js";
import { JobRetention } from "./retention/job-retention.js";
import { retentionMs } from "./settings/setting-definitions.js";
import type { Settings } from "./settings/settings.js";
import type { SqlClient } from "./sql/sql-client.js";
import type { JobSummary } from "./store/job-row.js";
import { emptyCounts, type ApplyOutcome, type JobStorage } from "./store/job-storage.js";
import { INT4_MAX } from "./store/storable-values.js";
import { buildEnvelope, prepareInput } from "./submit/build-envelope.js";
import {
  TERMINAL_STATES,
  type AuditLog,
  type CancelOutcome,
  type ChainContext,
  type ChainHook,
  type ComponentRegistration,
  type ComponentStatus,
  type Coordinator,
  type CoordinatorCounters,
  type CoordinatorHealth,
  type DeadLetterRecord,
  type JobEvent,
  type JobEventOrigin,
  type JobFilter,
  type JobOutputBytes,
  type JobRecord,
  type JobState,
  type KeyLimits,
  type Page,
  type RedriveOutcome,
  type SubmitInput,
  type SubmitOptions,
  type SubmitOutcome,
} from "./types.js";

export interface CoordinatorParts {
  /** This coordinator among the replicas sharing its store (its outbox claims, leases and notifications). */
  id: string;
  bus: Bus;
  store: JobStorage;
  /**
   * The SQL database under `store`, when it is one: limits, leases and presence then live there, shared by
   * every coordinator on it. Without it (the memory store) they are this process's.
   */
  sql?: SqlClient;
  settings: Settings;
  audit: AuditLog;
  components: readonly ComponentRegistration[];
  onCompleted: Readonly<Record<string, ChainHook>>;
  log: Logger;
  heartbeatIntervalMs?: number;
  /** Closes what the factory opened (an SQL client) after the coordinator stopped. */
  release: () => Promise<void>;
}

const QUEUE_DEPTH_TIMEOUT_MS = 2_000;
/** What wakes a waiter: its job's new state, the coordinator closing, or a possibly missed event. */
type WaiterSignal = JobState | "closing" | "recheck";
/** waitForJob listens to this process's job events; the poll is only a safety net, so it is slow. */
const WAIT_POLL_MS = 10_000;
const MAX_IDEMPOTENCY_KEY = 255;
const utf8 = new TextEncoder();

/** The coordinator at run time. Built by `createCoordinator`, which opens the store and the bus first. */
export class CoordinatorRuntime implements Coordinator {
  private readonly registrations = new Map<string, ComponentRegistration>();
  private readonly limiter: DispatchLimiter;
  private readonly replicas: ReplicaSet | undefined;
  private readonly relay: OutboxRelay;
  private readonly registry: InstanceRegistry;
  private readonly retention: JobRetention;
  private readonly prom: CoordinatorMetrics;
  private readonly activity = new ActivityCounter();
  private readonly listeners = new Set<(event: JobEvent, origin: JobEventOrigin) => void>();
  /** waitForJob callers by job id, so a state change wakes only its own waiters. */
  private readonly waiters = new Map<string, Set<(state: WaiterSignal) => void>>();
  private readonly subscriptions: Subscription[] = [];
  private readonly stats: CoordinatorCounters = {
    submitted: 0,
    published: 0,
    resultsApplied: 0,
    duplicateResults: 0,
    invalidResults: 0,
    deadLettered: 0,
    redriven: 0,
  };
  private closing: Promise<void> | undefined;
  private membership: CoordinatorMembership | undefined;

  constructor(private readonly parts: CoordinatorParts) {
    for (const reg of parts.components) this.registrations.set(reg.name, reg);
    const limitsOf = (component: string): KeyLimits | undefined => this.limitsOf(component);
    this.limiter = parts.sql !== undefined ? new SharedLimiter(parts.sql, limitsOf) : new LocalLimiter(limitsOf);
    this.replicas =
      parts.sql === undefined
        ? undefined
        : new ReplicaSet({
            id: parts.id,
            store: new ReplicaStore(parts.sql),
            sql: parts.sql,
            log: parts.log,
            onJobEvents: (events) => this.heardJobEvents(events),
            onSetting: (name) => void this.reloadSetting(name),
            onResync: () => this.resync(),
          });
    this.registry = new InstanceRegistry(parts.heartbeatIntervalMs);
    this.relay = new OutboxRelay({
      store: parts.store,
      bus: parts.bus,
      limiter: this.limiter,
      log: parts.log,
      batchSize: () => parts.settings.value<number>("relay.batchSize"),
      fair: () => parts.components.some((c) => this.limitsOf(c.name) !== undefined),
      components: parts.components.map((c) => c.name),
      pollIntervalMs: () => parts.settings.value<number>("relay.pollIntervalMs"),
      onDispatched: (jobs, published) => {
        this.stats.published += published;
        for (const job of jobs) this.emit(job);
      },
    });
    this.prom = new CoordinatorMetrics(() => parts.store.evictedJobs());
    this.retention = new JobRetention({
      store: parts.store,
      log: parts.log,
      retentionMs: () => retentionMs(parts.settings.value<string>("jobs.retention")),
      onPruned: (count) => this.prom.jobsPruned(count),
      onPass: (outcome) => this.prom.retentionPass(outcome),
      isLeader: () => this.replicas?.isLeader ?? true,
    });
  }

  get id(): string {
    return this.parts.id;
  }

  get metrics(): Registry {
    return this.prom.registry;
  }

  get settings(): Settings {
    return this.parts.settings;
  }

  get audit(): AuditLog {
    return this.parts.audit;
  }

  /** Restores limiter state, subscribes to Results, exhaustion and heartbeats, and starts the relay. */
  async start(): Promise<void> {
    const { bus, log, store } = this.parts;
    await this.joinBus();
    if (bus.kind === "inprocess") {
      // The in-process bus lost whatever it held when the last process ended; a kept store did not.
      const requeued = await store.requeueQueued();
      if (requeued > 0) log.warn({ requeued }, "requeued jobs the previous in-process bus held when it stopped");
    }
    if (this.limiter instanceof LocalLimiter) await this.limiter.restore(store, Date.now());
    // Present before the relay claims anything, so other coordinators leave this one's claims alone.
    await this.replicas?.start();
    try {
      this.subscriptions.push(await bus.consumeResults((event) => this.onResult(event)));
      this.subscriptions.push(
        await bus.observeExhausted(async (event) => {
          const failed = await handleExhausted(event, { bus, store, log });
          if (failed !== undefined) {
            this.stats.deadLettered += 1;
            this.decided(failed);
          }
        }),
      );
      this.subscriptions.push(
        await bus.subscribeHeartbeats((event) => {
          if (event.kind === "heartbeat") this.registry.record(event.heartbeat, Date.now());
          else log.warn({ subject: event.subject, err: event.error }, "ignored an invalid heartbeat");
        }),
      );
    } catch (err) {
      await Promise.allSettled(this.subscriptions.map((s) => s.stop()));
      await this.replicas?.stop();
      await this.membership?.leave();
      throw err;
    }
    this.relay.start();
    this.retention.start();
  }

  async submit(component: string, input: SubmitInput, opts: SubmitOptions = {}): Promise<SubmitOutcome> {
    const reg = this.registration(component);
    const key = opts.idempotencyKey;
    if (key !== undefined) {
      if (typeof key !== "string" || key.length === 0 || key.length > MAX_IDEMPOTENCY_KEY || key.includes("\u0000")) {
        throw invalidRequest(
          "idempotencyKey",
          `a string of 1 to ${MAX_IDEMPOTENCY_KEY} characters without NUL`,
          JSON.stringify(key),
        );
      }
      const existing = await this.parts.store.findByIdempotencyKey(component, key);
      if (existing !== undefined) return { jobId: existing.jobId, created: false, state: existing.state };
    }
    const prepared = prepareInput(input, opts.contentType);
    const jobId = randomUUID();
    const now = new Date();
    const sharedConfig = this.parts.settings.shared();
    const envelopeWith = (jobInput: Parameters<typeof buildEnvelope>[0]["input"]) =>
      buildEnvelope({
        jobId,
        registration: reg,
        input: jobInput,
        contentType: prepared.contentType,
        opts,
        sharedConfig,
        now,
      });
    let built;
    if ("upload" in prepared) {
      // Checked before the upload, so a bad option does not leave an orphan object behind.
      const maxBytes = envelopeWith({
        contentRef: { object_ref: `${jobId}/pending`, byte_size: prepared.upload.byteLength },
      }).envelope.limits.max_bytes;
      if (prepared.upload.byteLength > maxBytes)
        throw invalidRequest(
          "input",
          `at most ${maxBytes} bytes (the job's max_bytes)`,
          `${prepared.upload.byteLength} bytes`,
        );
      const contentRef = await this.parts.bus.payloads.put(jobId, prepared.upload, { maxBytes });
      built = envelopeWith({ contentRef });
    } else {
      built = envelopeWith({ inline: prepared.inline });
    }
    const limitKey = limitKeyOf(this.limitsOf(component), opts.metadata);
    const { job, created, outboxId } = await this.parts.store.insertJob({
      envelope: built.envelope,
      envelopeJson: built.json,
      limitKey,
      idempotencyKey: key ?? null,
    });
    if (created) {
      this.stats.submitted += 1;
      this.emit(job);
      if (outboxId !== undefined)
        this.relay.offer({
          id: outboxId,
          jobId,
          component,
          limitKey,
          dedupKey: jobId,
          envelope: built.envelope,
          encoded: utf8.encode(built.json),
        });
      else this.relay.notify();
    }
    return { jobId: job.jobId, created, state: job.state };
  }

  getJob(jobId: string): Promise<JobRecord | undefined> {
    return this.parts.store.getJob(jobId);
  }

  listJobs(filter?: JobFilter): Promise<Page<JobRecord>> {
    if (filter?.component !== undefined) this.registration(filter.component);
    return listInTimeRange(filter ?? {}, (f) => this.parts.store.listJobs(f));
  }

  async cancel(jobId: string): Promise<CancelOutcome> {
    const outcome = await this.parts.store.cancel(jobId);
    if (outcome.kind === "not_found") return { cancelled: false, reason: "not_found" };
    if (outcome.kind === "already_finished") return { cancelled: false, reason: "already_finished", job: outcome.job };
    // Best effort: a job a worker already holds is not in the way; its late Result is counted and ignored.
    if (outcome.wasQueued && outcome.streamSeq !== null)
      await this.parts.bus.removeJob(outcome.job.component, outcome.streamSeq).catch(() => false);
    // A pending job may be mid-publish in the relay and hold a slot already: releasing it is idempotent.
    this.decided(outcome.job);
    return { cancelled: true, job: outcome.job };
  }

  listDeadLetters(filter?: { component?: string; cursor?: string; limit?: number }): Promise<Page<DeadLetterRecord>> {
    if (filter?.component !== undefined) this.registration(filter.component);
    return this.parts.store.listDeadLetters(filter);
  }

  async redrive(jobId: string): Promise<RedriveOutcome> {
    const outcome = await this.parts.store.redrive(jobId);
    if (outcome.kind === "not_found") return { redriven: false, reason: "not_found" };
    if (outcome.kind === "not_failed") return { redriven: false, reason: "not_failed", job: outcome.job };
    this.stats.redriven += 1;
    this.emit(outcome.job);
    this.relay.notify();
    return { redriven: true, job: outcome.job };
  }

  async redriveAll(component: string): Promise<string[]> {
    this.registration(component);
    const redriven: string[] = [];
    for (const jobId of await this.parts.store.deadLetteredJobIds(component)) {
      if ((await this.redrive(jobId)).redriven) redriven.push(jobId);
    }
    return redriven;
  }

  async components(): Promise<ComponentStatus[]> {
    const counts = await this.parts.store.countsByComponent();
    return Promise.all([...this.registrations.values()].map((reg) => this.status(reg, counts.get(reg.name))));
  }

  async component(name: string): Promise<ComponentStatus | undefined> {
    const reg = this.registrations.get(name);
    if (reg === undefined) return undefined;
    const counts = await this.parts.store.countsByComponent();
    return this.status(reg, counts.get(name));
  }

  async health(): Promise<CoordinatorHealth> {
    const store = await this.parts.store.ping().catch(() => false);
    const bus = this.parts.bus.isConnected();
    const consumers = this.subscriptions.length === 3 && this.closing === undefined;
    return { live: this.closing === undefined, ready: store && bus && consumers, checks: { store, bus, consumers } };
  }

  counters(): CoordinatorCounters {
    return { ...this.stats };
  }

  async jobOutput(jobId: string): Promise<JobOutputBytes | undefined> {
    const output = (await this.parts.store.getJob(jobId))?.output;
    if (output === null || output === undefined || (output.result_ref === undefined && output.data === undefined))
      return undefined;
    return this.readOutput(jobId, output);
  }

  /** A Result's output as bytes: the object `result_ref` names, or the inline data (a string as is, anything else as JSON). */
  private async readOutput(jobId: string, output: Result["output"]): Promise<JobOutputBytes> {
    if (output?.result_ref !== undefined) {
      return {
        bytes: await this.parts.bus.payloads.get(output.result_ref, { jobId, maxBytes: Number.MAX_SAFE_INTEGER }),
        contentType: "application/octet-stream",
      };
    }
    const data = output?.data;
    return typeof data === "string"
      ? { bytes: utf8.encode(data), contentType: "text/plain; charset=utf-8" }
      : { bytes: utf8.encode(JSON.stringify(data ?? null)), contentType: "application/json" };
  }

  onJobEvent(listener: (event: JobEvent, origin: JobEventOrigin) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  waitForJob(jobId: string, opts: { timeoutMs?: number } = {}): Promise<JobRecord> {
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
        this.getJob(jobId).then(
          (job) => {
            if (job === undefined) finish(() => reject(new CoordinatorError("not_found", `no job ${jobId}`)));
            else if (TERMINAL_STATES.includes(job.state)) finish(() => resolve(job));
          },
          (err: unknown) => finish(() => reject(err)),
        );
      };
      const waiters = this.waiters.get(jobId) ?? new Set<(state: WaiterSignal) => void>();
      const onState = (state: WaiterSignal): void => {
        if (state === "closing")
          finish(() =>
            reject(new CoordinatorError("unavailable", `the coordinator closed before job ${jobId} finished`)),
          );
        else if (state === "recheck" || TERMINAL_STATES.includes(state)) check();
      };
      waiters.add(onState);
      this.waiters.set(jobId, waiters);
      const unsubscribe = (): void => {
        waiters.delete(onState);
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

  close(): Promise<void> {
    this.closing ??= (async () => {
      await this.relay.stop();
      await this.retention.stop();
      await Promise.allSettled(this.subscriptions.map((s) => s.stop()));
      // After the relay stopped, so nothing it claims outlives the retirement that frees its claims.
      await this.replicas?.stop();
      await this.membership?.leave();
      this.listeners.clear();
      for (const waiters of [...this.waiters.values()]) for (const waiter of [...waiters]) waiter("closing");
      await this.parts.store.stopMaintenance();
      await this.parts.release();
    })();
    return this.closing;
  }

  private async onResult(event: ResultEvent): Promise<void> {
    if (event.kind === "invalid") {
      this.stats.invalidResults += 1;
      this.parts.log.warn(
        { subject: event.subject, err: event.error },
        "ignored a message on the results stream that is not a valid Result",
      );
      return;
    }
    const result = event.result;
    const hook = result.status === "completed" ? this.parts.onCompleted[result.component] : undefined;
    let outcome: ApplyOutcome;
    try {
      outcome = await this.parts.store.applyResult(
        result,
        hook === undefined ? undefined : async (job) => hook(this.chainContext(job, result)),
      );
    } catch (err) {
      // A value the database cannot hold (a NUL character in the output, a number out of range, JSON nested
      // too deeply) would fail the same way on every redelivery: record the job failed with why, instead of
      // retrying forever.
      if (!isUnstorableValue(err)) throw err;
      this.parts.log.warn(
        { err, jobId: result.job_id, component: result.component },
        "a Result could not be stored as sent; recording the job failed",
      );
      outcome = await this.parts.store.applyResult(unstorable(result, err as Error));
    }
    if (outcome.kind === "unknown") {
      this.stats.invalidResults += 1;
      this.parts.log.warn(
        { jobId: result.job_id, component: result.component },
        "ignored a Result for a job the store does not hold (not submitted here, or deleted by retention)",
      );
    } else if (outcome.kind === "duplicate") {
      this.stats.duplicateResults += 1;
    } else {
      this.stats.resultsApplied += 1;
      this.decided(outcome.job);
    }
  }

  /**
   * Joins the coordinators on the bus, and refuses to run beside another when either one's store cannot be
   * shared: two coordinators with stores of their own on one bus would each miss the other's jobs (Results
   * for jobs they do not hold, limits counted twice) without either noticing.
   */
  private async joinBus(): Promise<void> {
    const { bus, sql, id } = this.parts;
    const shareable = sql?.dialect === "postgres";
    const store = sql === undefined ? "the memory store" : sql.dialect === "postgres" ? "Postgres" : "PGlite";
    const membership = await bus.joinCoordinators({ id, shareable, store });
    const other = membership.peers.find((p) => !p.shareable) ?? (shareable ? undefined : membership.peers[0]);
    if (other === undefined) {
      this.membership = membership;
      return;
    }
    await membership.leave();
    const which = other.shareable ? `this coordinator's store (${store})` : `its store (${other.store})`;
    throw new CoordinatorError(
      "conflict",
      `another coordinator (${other.id}, on ${other.store}) is running on this bus, and ${which} cannot be shared ` +
        "between coordinators. Run every replica on one Postgres (DATABASE_URL), or stop the other coordinator.",
    );
  }

  /** A job left pending/queued (Result, dead letter, cancel): its limit slot is free for the next job of its key. */
  private decided(job: JobSummary): void {
    this.limiter.released(job.jobId, job.component, job.limitKey);
    if (job.limitKey !== null) this.relay.notify();
    this.emit(job);
  }

  /** State changes other coordinators wrote: their waiters and listeners here hear of them as of local ones. */
  private heardJobEvents(events: readonly RemoteJobEvent[]): void {
    let freed = false;
    for (const e of events) {
      if (e.limited && TERMINAL_STATES.includes(e.state)) {
        this.limiter.released(e.jobId, e.component);
        freed = true;
      }
      this.publish({ jobId: e.jobId, component: e.component, state: e.state, reasonCode: e.reasonCode, at: e.at }, "elsewhere");
    }
    // A slot freed elsewhere, or a job submitted or redriven elsewhere whose coordinator may be gone.
    if (freed) this.relay.notify();
  }

  /** A setting another coordinator wrote: read again from the database, so every replica stamps the same config. */
  private async reloadSetting(name: string): Promise<void> {
    try {
      await this.parts.settings.reload(name, await this.parts.store.readSettings());
    } catch (err) {
      this.parts.log.warn({ err, setting: name }, "could not reload a setting another coordinator changed");
    }
  }

  /**
   * Notifications may have been missed while the listening connection was down: settings are read again,
   * waiters look at their jobs, and the relay reads the outbox and the limits afresh.
   */
  private resync(): void {
    void this.reloadSetting("*");
    if (this.limiter instanceof SharedLimiter) this.limiter.forget();
    for (const waiters of [...this.waiters.values()]) for (const waiter of [...waiters]) waiter("recheck");
    this.relay.notify();
  }

  /**
   * Runs before the Result is recorded, so a crash replays it: its submits carry idempotency keys
   * derived from the parent job, and a replay finds the jobs it already created.
   */
  private chainContext(job: JobRecord, result: Result): ChainContext {
    let n = 0;
    return {
      job,
      result,
      outputBytes: async () => (await this.readOutput(job.jobId, result.output)).bytes,
      submit: (component, input, opts = {}) => {
        n += 1;
        return this.submit(component, input, {
          ...opts,
          idempotencyKey: opts.idempotencyKey ?? chainIdempotencyKey(job.jobId, component, n),
        });
      },
    };
  }

  private async status(reg: ComponentRegistration, counts = emptyCounts()): Promise<ComponentStatus> {
    const instances = this.registry.instances(reg.name, Date.now());
    const healthy = instances.filter((i) => !i.stale).length;
    const queueDepth = await withTimeout(this.parts.bus.queueDepth(reg.name), QUEUE_DEPTH_TIMEOUT_MS).catch(() => null);
    return {
      name: reg.name,
      ...componentSummary(healthy),
      healthyInstances: healthy,
      instances,
      queueDepth,
      jobs: counts,
      limits: this.limitsOf(reg.name) ?? null,
      maturity: reg.maturity ?? "experimental",
      activity: this.activity.series(reg.name, Date.now()),
    };
  }

  private registration(component: string): ComponentRegistration {
    const reg = this.registrations.get(component);
    if (reg === undefined) throw unknownComponent(component, [...this.registrations.keys()]);
    return reg;
  }

  private limitsOf(component: string): KeyLimits | undefined {
    return (this.parts.settings.get(`limits.${component}`)?.value ?? undefined) as KeyLimits | undefined;
  }

  private emit(job: JobSummary): void {
    this.publish({
      jobId: job.jobId,
      component: job.component,
      state: job.state,
      reasonCode: job.reasonCode,
      at: job.updatedAt,
    });
  }

  /** One job event, made here or heard from another coordinator, to this process's waiters and listeners. */
  private publish(event: JobEvent, origin: JobEventOrigin = "here"): void {
    for (const waiter of this.waiters.get(event.jobId) ?? []) waiter(event.state);
    this.activity.record(event, Date.now());
    for (const listener of this.listeners) {
      try {
        listener(event, origin);
      } catch (err) {
        this.parts.log.warn({ err }, "a job event listener threw");
      }
    }
  }
}

/**
 * A value no store can hold, whatever the retry: Postgres error class 22 (data exception: 22P05
 * untranslatable character, 22003 out of range, ...) or 54 (a limit exceeded: 54001, JSON nested past the
 * stack). The memory store refuses the same values with the same codes.
 */
function isUnstorableValue(err: unknown): boolean {
  const state = sqlStateOf(err);
  return state !== undefined && (state.startsWith("22") || state.startsWith("54"));
}

/** The SQLSTATE an error carries (Postgres, PGlite and the memory store alike), if any. */
function sqlStateOf(err: unknown): string | undefined {
  const code = (err as { code?: unknown }).code;
  return typeof code === "string" ? code : undefined;
}

/** SQLSTATEs of a timestamp Postgres refuses: its syntax, a field out of range, its time zone offset. */
const DATETIME_EXCEPTIONS = new Set(["22007", "22008", "22009"]);

/** The Result reduced to what the store can hold: failed, no output, and the database's reason. */
function unstorable(result: Result, err: Error): Result {
  const clean = (text: string): string => text.replaceAll("\u0000", "");
  // A finished_at of the contract's form that is no real time (February 30th, year 0, a +16:00 offset) fails
  // the fallback too, so it is replaced with now, which also lets the job count as decided after a redrive.
  const badTime = DATETIME_EXCEPTIONS.has(sqlStateOf(err) ?? "");
  return {
    ...result,
    status: "failed",
    reason_code: ReasonCode.InvalidOutput,
    reason_detail: sanitizeReasonDetail(
      clean(
        `the Result could not be stored: ${err.message}${badTime ? ` (finished_at ${JSON.stringify(result.finished_at)})` : ""}`,
      ),
    ),
    ...(badTime ? { finished_at: new Date().toISOString() } : {}),
    output: undefined,
    instance_id: result.instance_id === undefined ? undefined : clean(result.instance_id),
    duration_ms: result.duration_ms === undefined ? undefined : Math.min(Math.max(0, result.duration_ms), INT4_MAX),
  } as Result;
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
    promise.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (err: unknown) => {
        clearTimeout(timer);
        reject(err);
      },
    );
  });
}
