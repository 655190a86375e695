import { buildInfoLabels, ReasonCode } from "@tessera/contract";
import { Counter, Gauge, Histogram, Registry } from "prom-client";
import type { ComponentStatus, JobEvent, JobEventOrigin, ResolvedSetting } from "../types.js";
import { TERMINAL_STATES } from "../types.js";
import { COORDINATOR_METRICS as M } from "./coordinator-metric-names.js";

export const PRUNE_REASONS = ["retention", "bound"] as const;
export type PruneReason = (typeof PRUNE_REASONS)[number];
export type ResultApplyOutcome = "applied" | "duplicate" | "unknown" | "invalid" | "error";

/** What the gauges read when scraped, from the running coordinator. */
export interface CoordinatorMetricsSource {
  /** `evictedJobs` is the store's own count of jobs deleted to stay within its bound (0 on other stores). */
  evictedJobs: () => number;
  components: () => Promise<ComponentStatus[]>;
  /** The limiter's blocked keys, `component<US>key`. */
  blockedKeys: () => string[];
  settings: () => ResolvedSetting[];
}

/** Gauges of one scrape read the same snapshot: one store and bus round-trip per scrape, not one per gauge. */
const SNAPSHOT_TTL_MS = 1_000;

/**
 * The coordinator's Prometheus metrics, in a registry of its own (not prom-client's global one) so that
 * coordinators and workers can share a process, as in embedded mode and in tests; served at `/metrics`.
 * Counters are counted where things happen; gauges are read when scraped, so an idle coordinator costs nothing.
 */
export class CoordinatorMetrics {
  readonly registry = new Registry();
  private readonly pruned: Counter<"reason">;
  private readonly passes: Counter<"outcome">;
  private readonly submittedJobs: Counter<"component">;
  private readonly decidedJobs: Counter<"component" | "state" | "reason">;
  private readonly deadLetters: Counter<"component">;
  private readonly applyDuration: Histogram<"outcome">;
  /** Jobs seen becoming pending and not yet published, for the relay lag: jobId → component and since when. */
  private readonly waiting = new Map<string, { component: string; since: number }>();
  private snapshot: { at: number; components: Promise<ComponentStatus[]> } | undefined;

  constructor(
    private readonly source: CoordinatorMetricsSource,
    componentNames: readonly string[],
  ) {
    const { registry } = this;
    const evictedBefore = source.evictedJobs();
    let evictedReported = 0;
    this.pruned = new Counter({
      ...M.jobsPruned,
      labelNames: ["reason"],
      registers: [registry],
      // The bound is kept by the store as jobs are decided; it is read when scraped rather than reported per job.
      collect() {
        const evicted = source.evictedJobs() - evictedBefore;
        if (evicted > evictedReported) this.inc({ reason: "bound" }, evicted - evictedReported);
        evictedReported = evicted;
      },
    });
    this.passes = new Counter({ ...M.retentionPasses, labelNames: ["outcome"], registers: [registry] });
    this.submittedJobs = new Counter({ ...M.jobsSubmitted, labelNames: ["component"], registers: [registry] });
    this.decidedJobs = new Counter({
      ...M.jobsDecided,
      labelNames: ["component", "state", "reason"],
      registers: [registry],
    });
    this.deadLetters = new Counter({ ...M.deadLetters, labelNames: ["component"], registers: [registry] });
    this.applyDuration = new Histogram({
      ...M.resultApply,
      labelNames: ["outcome"],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    });
    const statuses = (): Promise<ComponentStatus[]> => this.components();
    const perComponent = (
      name: { name: string; help: string },
      value: (c: ComponentStatus) => number | null,
    ): Gauge<"component"> =>
      new Gauge({
        ...name,
        labelNames: ["component"],
        registers: [registry],
        async collect() {
          this.reset();
          for (const c of await statuses()) {
            const v = value(c);
            if (v !== null) this.set({ component: c.name }, v);
          }
        },
      });
    new Gauge({
      ...M.jobs,
      labelNames: ["component", "state"],
      registers: [registry],
      async collect() {
        this.reset();
        for (const c of await statuses())
          for (const [state, n] of Object.entries(c.jobs)) this.set({ component: c.name, state }, n);
      },
    });
    perComponent(M.outboxBacklog, (c) => c.jobs.pending);
    perComponent(M.queueDepth, (c) => c.queueDepth?.pending ?? null);
    perComponent(M.healthyInstances, (c) => c.healthyInstances);
    const waiting = this.waiting;
    new Gauge({
      ...M.relayLag,
      labelNames: ["component"],
      registers: [registry],
      collect() {
        const now = Date.now();
        const oldest = new Map<string, number>(componentNames.map((c) => [c, now]));
        for (const w of waiting.values()) oldest.set(w.component, Math.min(oldest.get(w.component) ?? now, w.since));
        for (const [component, since] of oldest) this.set({ component }, Math.max(0, now - since) / 1000);
      },
    });
    new Gauge({
      ...M.limiterBlockedKeys,
      labelNames: ["component"],
      registers: [registry],
      collect() {
        const counts = new Map<string, number>(componentNames.map((c) => [c, 0]));
        for (const key of source.blockedKeys()) {
          const component = key.split("\u001f")[0] ?? "";
          counts.set(component, (counts.get(component) ?? 0) + 1);
        }
        for (const [component, n] of counts) this.set({ component }, n);
      },
    });
    new Gauge({
      ...M.setting,
      labelNames: ["name"],
      registers: [registry],
      collect() {
        this.reset();
        for (const s of source.settings()) {
          // Only numbers and flags: strings are not measurements, and a secret is never exported.
          if (s.class === "secret") continue;
          if (typeof s.value === "number") this.set({ name: s.name }, s.value);
          else if (typeof s.value === "boolean") this.set({ name: s.name }, s.value ? 1 : 0);
        }
      },
    });
    new Gauge({ ...M.buildInfo, labelNames: ["version", "commit"], registers: [registry] }).set(
      buildInfoLabels(process.env),
      1,
    );
    // Every series from the start, so a rate() over a fresh coordinator is 0 rather than absent.
    for (const reason of PRUNE_REASONS) this.pruned.inc({ reason }, 0);
    for (const outcome of ["ok", "failed"]) this.passes.inc({ outcome }, 0);
    for (const component of componentNames) {
      this.submittedJobs.inc({ component }, 0);
      this.deadLetters.inc({ component }, 0);
    }
  }

  jobsPruned(count: number): void {
    this.pruned.inc({ reason: "retention" }, count);
  }

  retentionPass(outcome: "ok" | "failed"): void {
    this.passes.inc({ outcome });
  }

  submitted(component: string): void {
    this.submittedJobs.inc({ component });
  }

  resultApplied(outcome: ResultApplyOutcome, seconds: number): void {
    this.applyDuration.observe({ outcome }, seconds);
  }

  /**
   * Every job state change this coordinator heard of. Decisions are counted by the replica that made them
   * (origin "here"), so a sum over replicas counts each once; the relay lag follows every replica's changes,
   * since any replica may publish a job another one recorded.
   */
  jobEvent(event: JobEvent, origin: JobEventOrigin): void {
    if (event.state === "pending") {
      const since = Date.parse(event.at);
      this.waiting.set(event.jobId, { component: event.component, since: Number.isNaN(since) ? Date.now() : since });
    } else this.waiting.delete(event.jobId);
    if (origin !== "here" || !TERMINAL_STATES.includes(event.state)) return;
    const reason = event.reasonCode ?? "none";
    this.decidedJobs.inc({ component: event.component, state: event.state, reason });
    if (reason === ReasonCode.DeadLettered) this.deadLetters.inc({ component: event.component });
  }

  private components(): Promise<ComponentStatus[]> {
    const now = Date.now();
    if (this.snapshot === undefined || now - this.snapshot.at > SNAPSHOT_TTL_MS)
      this.snapshot = { at: now, components: this.source.components().catch(() => []) };
    return this.snapshot.components;
  }
}
