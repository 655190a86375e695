import { BUILD_INFO_METRIC, buildInfoLabels, type MetricName, type Revision } from "@tessera/contract";
import { Counter, Gauge, Histogram, Registry } from "prom-client";

export const JOB_OUTCOMES = ["completed", "failed", "timeout", "retried", "invalid", "duplicate"] as const;
export type JobOutcome = (typeof JOB_OUTCOMES)[number];

/**
 * The worker's metric names and help, written once: the metrics register them, and the checks of the
 * dashboards and alert rules compare every name a PromQL expression uses with this list.
 */
export const WORKER_METRICS = {
  jobs: {
    name: "tessera_jobs_total",
    help: "Deliveries handled by the worker, by outcome (retried: nak'd for redelivery; invalid: envelope termed; duplicate: already finished) and revision (stable, or a canary's)",
  },
  handlerDuration: {
    name: "tessera_handler_duration_seconds",
    help: "Time from the start of the handler to its outcome, by outcome and revision",
  },
  inFlight: { name: "tessera_jobs_in_flight", help: "Handlers running now" },
  buildInfo: BUILD_INFO_METRIC,
} as const satisfies Record<string, MetricName>;

/** Every metric name the worker registers (a test checks the registry agrees). */
export const WORKER_METRIC_NAMES: readonly string[] = Object.values(WORKER_METRICS).map((m) => m.name);

/**
 * The worker's Prometheus metrics, in a registry of its own (not prom-client's global one) so several
 * runtimes can share a process, as in embedded mode and in tests.
 */
export class WorkerMetrics {
  readonly registry = new Registry();
  private readonly jobs: Counter<"component" | "outcome" | "revision">;
  private readonly duration: Histogram<"component" | "outcome" | "revision">;
  private readonly inFlight: Gauge<"component">;
  private running = 0;

  constructor(
    private readonly component: string,
    private readonly revision: Revision = "stable",
  ) {
    this.jobs = new Counter({
      ...WORKER_METRICS.jobs,
      labelNames: ["component", "outcome", "revision"],
      registers: [this.registry],
    });
    this.duration = new Histogram({
      ...WORKER_METRICS.handlerDuration,
      labelNames: ["component", "outcome", "revision"],
      buckets: [0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900],
      registers: [this.registry],
    });
    const running = (): number => this.running;
    this.inFlight = new Gauge({
      ...WORKER_METRICS.inFlight,
      labelNames: ["component"],
      registers: [this.registry],
      // Read when scraped: a gauge write per job start and end would cost more than the scrape.
      collect() {
        this.set({ component }, running());
      },
    });
    new Gauge({ ...WORKER_METRICS.buildInfo, labelNames: ["version", "commit"], registers: [this.registry] }).set(
      buildInfoLabels(process.env),
      1,
    );
    // Export every series from the start, so a rate() over a fresh worker is 0 rather than absent.
    for (const outcome of JOB_OUTCOMES) this.jobs.inc({ component, outcome, revision }, 0);
    this.inFlight.set({ component }, 0);
  }

  count(outcome: JobOutcome, handlerSeconds?: number): void {
    const labels = { component: this.component, outcome, revision: this.revision };
    this.jobs.inc(labels);
    if (handlerSeconds !== undefined) this.duration.observe(labels, handlerSeconds);
  }

  setInFlight(n: number): void {
    this.running = n;
  }
}
