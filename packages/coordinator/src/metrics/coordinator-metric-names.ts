import { BUILD_INFO_METRIC, type MetricName } from "@tessera/contract";

/**
 * The coordinator's metric names and help, written once: the metrics register them, and the checks of the
 * dashboards and alert rules (test/observability) compare every name a PromQL expression uses with this list.
 */
export const COORDINATOR_METRICS = {
  jobsPruned: {
    name: "tessera_coordinator_jobs_pruned_total",
    help: "Decided jobs deleted from the job store, by reason (retention: decided longer ago than jobs.retention; bound: past the memory store's maxDecidedJobs)",
  },
  retentionPasses: {
    name: "tessera_coordinator_retention_passes_total",
    help: "Retention passes, by outcome (failed: logged, and the next pass tries again)",
  },
  jobsSubmitted: {
    name: "tessera_coordinator_jobs_submitted_total",
    help: "Jobs this coordinator recorded (idempotent repeats of a submit are not counted), by component",
  },
  jobsDecided: {
    name: "tessera_coordinator_jobs_decided_total",
    help: "Jobs this coordinator moved to a terminal state (completed, failed, cancelled), by component, state and reason code",
  },
  deadLetters: {
    name: "tessera_coordinator_dead_letters_total",
    help: "Jobs this coordinator dead-lettered after their deliveries ran out, by component",
  },
  resultApply: {
    name: "tessera_coordinator_result_apply_duration_seconds",
    help: "Time to record one Result from the bus (store write and chain hook), by outcome (applied, duplicate, unknown, invalid, error)",
  },
  jobs: {
    name: "tessera_coordinator_jobs",
    help: "Jobs in the store, by component and state (read from the store when scraped; every replica reports the same store)",
  },
  outboxBacklog: {
    name: "tessera_coordinator_outbox_backlog",
    help: "Jobs recorded whose publish to the bus is not recorded yet (state pending), by component",
  },
  relayLag: {
    name: "tessera_coordinator_relay_lag_seconds",
    help: "Age of the oldest job this coordinator saw become pending and still pending (not yet published, or its publish not yet recorded), by component (0: none waiting)",
  },
  queueDepth: {
    name: "tessera_coordinator_queue_depth",
    help: "Jobs in the component's stream that no worker holds yet (the consumer's pending count; absent when the bus did not answer in time)",
  },
  healthyInstances: {
    name: "tessera_coordinator_healthy_instances",
    help: "Worker instances of the component whose heartbeats are fresh",
  },
  limiterBlockedKeys: {
    name: "tessera_coordinator_limiter_blocked_keys",
    help: "Limit keys of the component that cannot take another job now (concurrency full or out of rate tokens): the limiter's saturation",
  },
  setting: {
    name: "tessera_coordinator_setting",
    help: "The value in force of each numeric or boolean setting (booleans as 0/1), by name",
  },
  buildInfo: BUILD_INFO_METRIC,
} as const satisfies Record<string, MetricName>;

/** Every metric name the coordinator registers (a test checks the registry agrees). */
export const COORDINATOR_METRIC_NAMES: readonly string[] = Object.values(COORDINATOR_METRICS).map((m) => m.name);
