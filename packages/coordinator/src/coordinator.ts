import type { GatewayControl } from "./gateway/gateway-control.js";
import type { ConnectionService } from "@tessera/connectors";
import type { Bus, CoordinatorMembership, ResultEvent, Subscription } from "@tessera/bus";
import type { Logger } from "pino";
import type { Registry } from "prom-client";
import { chainContext } from "./chain-key.js";
import { LocalLimiter, SharedLimiter, type DispatchLimiter } from "./dispatch/dispatch-limiter.js";
import { limitKeyOf } from "./dispatch/key-limiter.js";
import { OutboxRelay } from "./dispatch/outbox-relay.js";
import { handleExhausted } from "./dead-letters/dead-letter-flow.js";
import { unknownComponent } from "./errors.js";
import { componentStatus } from "./heartbeats/component-status.js";
import { InstanceRegistry } from "./heartbeats/instance-registry.js";
import { listInTimeRange } from "./jobs/list-in-time-range.js";
import { CoordinatorMetrics, type ResultApplyOutcome } from "./metrics/coordinator-metrics.js";
import { joinCoordinatorsOnBus, replicaHooks } from "./replicas/replica-hooks.js";
import { ReplicaSet } from "./replicas/replica-set.js";
import { ReplicaStore } from "./replicas/replica-store.js";
import { JobEvents } from "./events/job-events.js";
import { outputBytes } from "./results/job-output.js";
import { recordResult, runHook } from "./results/record-result.js";
import { JobRetention } from "./retention/job-retention.js";
import { createSourceStage, type SourceStage } from "./sources/source-stage.js";
import { recordJob } from "./submit/record-job.js";
import { inApplySpan, inCreateSpan } from "./tracing/job-spans.js";
import {
  JOBS_RETENTION,
  limitsOf,
  RELAY_BATCH_SIZE,
  RELAY_POLL_INTERVAL_MS,
  retentionMs,
} from "./settings/setting-definitions.js";
import type { Settings } from "./settings/settings.js";
import type { SettingsStore } from "./settings/settings-store.js";
import type { SqlClient } from "./sql/sql-client.js";
import type { JobSummary } from "./store/job-row.js";
import { emptyCounts, type JobStorage } from "./store/job-storage.js";
import {
  type AuditLog,
  type CancelOutcome,
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
  /** Where `settings` are stored: read again when another coordinator changed one. */
  settingsStore: SettingsStore;
  /** Decided jobs the store deleted to stay within its bound (the memory store's), for the metrics. */
  evictedJobs: () => number;
  audit: AuditLog;
  components: readonly ComponentRegistration[];
  onCompleted: Readonly<Record<string, ChainHook>>;
  log: Logger;
  heartbeatIntervalMs?: number;
  /** Users' connections to providers, when connectors were configured. */
  connections?: ConnectionService;
  /** The gateway's control plane: tenants, accounts, their sealed credentials, the tail and the streams' health. */
  gateway: GatewayControl;
  /** Ends the store's background work and closes what the factory opened (an SQL client) after the coordinator stopped. */
  release: () => Promise<void>;
}

/** The coordinator at run time. Built by `createCoordinator`, which opens the store and the bus first. */
export class CoordinatorRuntime implements Coordinator {
  private readonly registrations = new Map<string, ComponentRegistration>();
  private readonly limiter: DispatchLimiter;
  private readonly replicas: ReplicaSet | undefined;
  private readonly relay: OutboxRelay;
  private readonly sources: SourceStage;
  private readonly registry: InstanceRegistry;
  private readonly retention: JobRetention;
  private readonly prom: CoordinatorMetrics;
  private readonly events: JobEvents;
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
    this.events = new JobEvents(parts.log);
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
            ...replicaHooks({
              limiter: this.limiter,
              events: this.events,
              settings: parts.settings,
              settingsStore: parts.settingsStore,
              log: parts.log,
              wakeRelay: () => this.relay.notify(),
            }),
          });
    this.registry = new InstanceRegistry(parts.heartbeatIntervalMs);
    this.sources = createSourceStage(parts, {
      egressOf: (component) => this.registrations.get(component)?.spec.egress,
      onChange: () => this.relay.notify(),
      onFailed: (job) => this.decided(job),
    });
    this.relay = new OutboxRelay({
      store: parts.store,
      bus: parts.bus,
      limiter: this.limiter,
      log: parts.log,
      batchSize: () => parts.settings.read(RELAY_BATCH_SIZE),
      fair: () => parts.components.some((c) => this.limitsOf(c.name) !== undefined),
      components: parts.components.map((c) => c.name),
      pollIntervalMs: () => parts.settings.read(RELAY_POLL_INTERVAL_MS),
      onDispatched: (jobs, published) => {
        this.stats.published += published;
        for (const job of jobs) this.emit(job);
      },
      stage: this.sources,
    });
    this.prom = new CoordinatorMetrics(
      {
        evictedJobs: parts.evictedJobs,
        components: () => this.components(),
        blockedKeys: () => this.limiter.blocked(Date.now()).keys,
        settings: () => parts.settings.list(),
      },
      parts.components.map((c) => c.name),
    );
    this.events.onJobEvent((event, origin) => this.prom.jobEvent(event, origin));
    this.retention = new JobRetention({
      store: parts.store,
      log: parts.log,
      retentionMs: () => retentionMs(parts.settings.read(JOBS_RETENTION)),
      onPruned: (count) => this.prom.jobsPruned(count),
      onPass: (outcome) => this.prom.retentionPass(outcome),
      isLeader: () => this.replicas?.isLeader ?? true,
    });
  }

  get connections(): ConnectionService | undefined {
    return this.parts.connections;
  }

  get gateway(): GatewayControl {
    return this.parts.gateway;
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
    this.membership = await joinCoordinatorsOnBus(bus, this.parts.id, this.parts.sql);
    if (bus.kind === "inprocess") {
      // The in-process bus lost whatever it held when the last process ended; a kept store did not.
      const requeued = await store.requeueQueued();
      if (requeued > 0) log.warn({ requeued }, "requeued jobs the previous in-process bus held when it stopped");
    }
    if (this.limiter instanceof LocalLimiter) await this.limiter.restore(store, Date.now());
    // Present before the relay claims anything, so other coordinators leave this one's claims alone.
    await this.replicas?.start();
    try {
      this.subscriptions.push(
        await bus.consumeResults((event) => {
          const started = performance.now();
          const took = (): number => (performance.now() - started) / 1000;
          return inApplySpan(event, () => this.onResult(event)).then(
            (outcome) => this.prom.resultApplied(outcome, took()),
            (err: unknown) => {
              this.prom.resultApplied("error", took());
              // Redelivered by the bus (nothing is lost); said here, so a Result that keeps failing is seen.
              log.warn(
                { err, jobId: event.kind === "result" ? event.result.job_id : undefined },
                "could not record a Result; it comes back",
              );
              throw err;
            },
          );
        }),
      );
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
    // Before the span: an unknown name is the caller's text, never a span name or a destination.
    const registration = this.registration(component);
    return inCreateSpan(
      component,
      opts,
      (traced) => this.record(registration, input, traced),
      (text) => this.parts.settings.scrub(text),
    );
  }

  private async record(
    registration: ComponentRegistration,
    input: SubmitInput,
    opts: SubmitOptions,
  ): Promise<SubmitOutcome> {
    const component = registration.name;
    const limitKey = limitKeyOf(this.limitsOf(component), opts.metadata);
    const recorded = await recordJob(
      {
        store: this.parts.store,
        bus: this.parts.bus,
        sharedConfig: () => this.parts.settings.shared(),
        sourceSecrets: this.sources.secrets,
      },
      registration,
      limitKey,
      input,
      opts,
    );
    if (recorded.created) {
      this.stats.submitted += 1;
      this.prom.submitted(component);
      this.emit(recorded.job);
      if (recorded.entry !== undefined) this.relay.offer(recorded.entry);
      else this.relay.notify();
    }
    return { jobId: recorded.job.jobId, created: recorded.created, state: recorded.job.state };
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
    return outputBytes(this.parts.bus.payloads, jobId, output);
  }

  onJobEvent(listener: (event: JobEvent, origin: JobEventOrigin) => void): () => void {
    return this.events.onJobEvent(listener);
  }

  waitForJob(jobId: string, opts: { timeoutMs?: number } = {}): Promise<JobRecord> {
    return this.events.waitForJob(jobId, (id) => this.getJob(id), opts);
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      await this.relay.stop();
      await this.sources.stop();
      await this.retention.stop();
      await Promise.allSettled(this.subscriptions.map((s) => s.stop()));
      // After the relay stopped, so nothing it claims outlives the retirement that frees its claims.
      await this.replicas?.stop();
      await this.membership?.leave();
      this.events.close();
      await this.parts.release();
    })();
    return this.closing;
  }

  private async onResult(event: ResultEvent): Promise<ResultApplyOutcome> {
    if (event.kind === "invalid") {
      this.stats.invalidResults += 1;
      this.parts.log.warn(
        { subject: event.subject, err: event.error },
        "ignored a message on the results stream that is not a valid Result",
      );
      return "invalid";
    }
    const result = event.result;
    const hook = result.status === "completed" ? this.parts.onCompleted[result.component] : undefined;
    const outcome = await recordResult(
      this.parts.store,
      result,
      hook === undefined
        ? undefined
        : (job) =>
            runHook(
              result.component,
              async () => hook(chainContext(job, result, this.parts.bus.payloads, (c, i, o) => this.submit(c, i, o))),
              this.parts.log,
              job.jobId,
            ),
      this.parts.log,
    );
    if (outcome.kind === "unknown") {
      this.stats.invalidResults += 1;
      this.parts.log.warn(
        { jobId: result.job_id, component: result.component },
        "ignored a Result for a job the store does not hold (not submitted here, or deleted by retention)",
      );
      return "unknown";
    }
    if (outcome.kind === "duplicate") {
      this.stats.duplicateResults += 1;
      return "duplicate";
    }
    this.stats.resultsApplied += 1;
    this.decided(outcome.job);
    return "applied";
  }

  /** A job left pending/queued (Result, dead letter, cancel): its limit slot is free for the next job of its key. */
  private decided(job: JobSummary): void {
    this.limiter.released(job.jobId, job.component, job.limitKey);
    if (job.limitKey !== null) this.relay.notify();
    this.emit(job);
  }

  private status(reg: ComponentRegistration, counts = emptyCounts()): Promise<ComponentStatus> {
    const { registry, parts } = this;
    return componentStatus(reg, counts, {
      registry,
      bus: parts.bus,
      limits: this.limitsOf(reg.name),
      activity: this.events.activity,
      store: parts.store,
    });
  }

  private registration(component: string): ComponentRegistration {
    const reg = this.registrations.get(component);
    if (reg === undefined) throw unknownComponent(component, [...this.registrations.keys()]);
    return reg;
  }

  private limitsOf(component: string): KeyLimits | undefined {
    return this.parts.settings.read(limitsOf(component)) ?? undefined;
  }

  private emit(job: JobSummary): void {
    this.events.publish(
      { jobId: job.jobId, component: job.component, state: job.state, reasonCode: job.reasonCode, at: job.updatedAt },
      "here",
    );
  }
}
