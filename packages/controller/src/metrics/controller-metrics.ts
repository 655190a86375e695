import { BUILD_INFO_METRIC, buildInfoLabels, type MetricName } from "@tessera/contract";
import { Counter, Gauge, Histogram, Registry } from "prom-client";

/**
 * The controller's metric names and help, written once: the metrics register them, and the checks of the
 * dashboards and alert rules compare every name a PromQL expression uses with this list.
 */
export const CONTROLLER_METRICS = {
  reconciles: {
    name: "tessera_controller_reconciles_total",
    help: "Reconciles of a Component, by outcome (ok; conflict: a 409, run again at once; error: retried with backoff)",
  },
  reconcileDuration: {
    name: "tessera_controller_reconcile_duration_seconds",
    help: "Time one reconcile of a Component took, by outcome",
  },
  workQueueDepth: {
    name: "tessera_controller_work_queue_depth",
    help: "Component keys waiting in the work queue (not counting the ones being reconciled)",
  },
  natsReachable: {
    name: "tessera_controller_nats_reachable",
    help: "1 when the controller's NATS connection is up (streams and consumers can be provisioned), else 0",
  },
  apiReachable: {
    name: "tessera_controller_api_reachable",
    help: "1 when the latest list of Components from the Kubernetes API succeeded, else 0",
  },
  buildInfo: BUILD_INFO_METRIC,
} as const satisfies Record<string, MetricName>;

/** Every metric name the controller registers (a test checks the registry agrees). */
export const CONTROLLER_METRIC_NAMES: readonly string[] = Object.values(CONTROLLER_METRICS).map((m) => m.name);

export const RECONCILE_OUTCOMES = ["ok", "conflict", "error"] as const;
export type ReconcileOutcome = (typeof RECONCILE_OUTCOMES)[number];

/** What the gauges read when scraped. */
export interface ControllerMetricsSource {
  queueDepth: () => number;
  natsReachable: () => boolean;
  apiReachable: () => boolean;
}

/** The controller's Prometheus metrics, in a registry of its own (tests run several controllers in one process). */
export class ControllerMetrics {
  readonly registry = new Registry();
  private readonly reconciles: Counter<"outcome">;
  private readonly duration: Histogram<"outcome">;

  constructor(source: ControllerMetricsSource) {
    const registers = [this.registry];
    this.reconciles = new Counter({ ...CONTROLLER_METRICS.reconciles, labelNames: ["outcome"], registers });
    this.duration = new Histogram({
      ...CONTROLLER_METRICS.reconcileDuration,
      labelNames: ["outcome"],
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    const read = (m: MetricName, value: () => number): Gauge =>
      new Gauge({
        ...m,
        registers,
        // Read when scraped: the state lives in the controller, a copy kept in step would only drift.
        collect() {
          this.set(value());
        },
      });
    read(CONTROLLER_METRICS.workQueueDepth, source.queueDepth);
    read(CONTROLLER_METRICS.natsReachable, () => (source.natsReachable() ? 1 : 0));
    read(CONTROLLER_METRICS.apiReachable, () => (source.apiReachable() ? 1 : 0));
    new Gauge({ ...CONTROLLER_METRICS.buildInfo, labelNames: ["version", "commit"], registers }).set(
      buildInfoLabels(process.env),
      1,
    );
    // Every series from the start, so a rate() over a fresh controller is 0 rather than absent.
    for (const outcome of RECONCILE_OUTCOMES) this.reconciles.inc({ outcome }, 0);
  }

  reconciled(outcome: ReconcileOutcome, seconds: number): void {
    this.reconciles.inc({ outcome });
    this.duration.observe({ outcome }, seconds);
  }
}
