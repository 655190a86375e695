import { Counter, Registry } from "prom-client";

export const PRUNE_REASONS = ["retention", "bound"] as const;
export type PruneReason = (typeof PRUNE_REASONS)[number];

/**
 * The coordinator's Prometheus metrics, in a registry of its own (not prom-client's global one) so that
 * coordinators and workers can share a process, as in embedded mode and in tests; served at `/metrics`.
 */
export class CoordinatorMetrics {
  readonly registry = new Registry();
  private readonly pruned: Counter<"reason">;
  private readonly passes: Counter<"outcome">;

  /** `evictedJobs` is the store's own count of jobs deleted to stay within its bound (MemoryJobStore.evictedJobs; 0 on other stores). */
  constructor(evictedJobs: () => number) {
    // A memory database shared with an earlier coordinator of this process counts what that one evicted too.
    const evictedBefore = evictedJobs();
    let evictedReported = 0;
    this.pruned = new Counter({
      name: "tessera_coordinator_jobs_pruned_total",
      help: "Decided jobs deleted from the job store, by reason (retention: decided longer ago than jobs.retention; bound: past the memory store's maxDecidedJobs)",
      labelNames: ["reason"],
      registers: [this.registry],
      // The bound is kept by the store as jobs are decided; it is read when scraped rather than reported per job.
      collect() {
        const evicted = evictedJobs() - evictedBefore;
        if (evicted > evictedReported) this.inc({ reason: "bound" }, evicted - evictedReported);
        evictedReported = evicted;
      },
    });
    this.passes = new Counter({
      name: "tessera_coordinator_retention_passes_total",
      help: "Retention passes, by outcome (failed: logged, and the next pass tries again)",
      labelNames: ["outcome"],
      registers: [this.registry],
    });
    // Every series from the start, so a rate() over a fresh coordinator is 0 rather than absent.
    for (const reason of PRUNE_REASONS) this.pruned.inc({ reason }, 0);
    for (const outcome of ["ok", "failed"]) this.passes.inc({ outcome }, 0);
  }

  jobsPruned(count: number): void {
    this.pruned.inc({ reason: "retention" }, count);
  }

  retentionPass(outcome: "ok" | "failed"): void {
    this.passes.inc({ outcome });
  }
}
