import { Counter, Gauge, Histogram, Registry } from "prom-client";

export type JobOutcome = "completed" | "failed" | "timeout" | "retried" | "invalid" | "duplicate";

/** The worker's Prometheus metrics, in a registry of its own so several runtimes can share a process. */
export class WorkerMetrics {
  readonly registry = new Registry();
  private readonly jobs: Counter<"component" | "outcome">;
  private readonly duration: Histogram<"component" | "outcome">;
  private readonly inFlight: Gauge<"component">;

  constructor(private readonly component: string) {
    this.jobs = new Counter({ name: "tessera_jobs_total", help: "Jobs handled, by outcome", labelNames: ["component", "outcome"], registers: [this.registry] });
    this.duration = new Histogram({
      name: "tessera_handler_duration_seconds",
      help: "Handler run time, by outcome",
      labelNames: ["component", "outcome"],
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300],
      registers: [this.registry],
    });
    this.inFlight = new Gauge({ name: "tessera_jobs_in_flight", help: "Jobs being handled now", labelNames: ["component"], registers: [this.registry] });
  }

  count(outcome: JobOutcome, seconds?: number): void {
    this.jobs.inc({ component: this.component, outcome });
    if (seconds !== undefined) this.duration.observe({ component: this.component, outcome }, seconds);
  }

  setInFlight(n: number): void {
    this.inFlight.set({ component: this.component }, n);
  }
}
