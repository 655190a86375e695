import type { ComponentActivity, JobEvent } from "../types.js";

export const ACTIVITY_BUCKET_MS = 60_000;
/** Minutes of history kept and served: enough for a sparkline, small enough to hold per component in memory. */
export const ACTIVITY_BUCKETS = 15;

interface Bucket {
  start: number;
  completed: number;
  failed: number;
}

/**
 * Completed and failed jobs per component per minute, counted from the coordinator's own job events.
 * In memory only (a restart starts from zero), so throughput and failure-rate charts cost no store query.
 */
export class ActivityCounter {
  private readonly byComponent = new Map<string, Bucket[]>();

  constructor(
    private readonly bucketMs = ACTIVITY_BUCKET_MS,
    private readonly keep = ACTIVITY_BUCKETS,
  ) {}

  record(event: JobEvent, now: number): void {
    if (event.state !== "completed" && event.state !== "failed") return;
    const start = now - (now % this.bucketMs);
    let buckets = this.byComponent.get(event.component);
    if (buckets === undefined) {
      buckets = [];
      this.byComponent.set(event.component, buckets);
    }
    let last = buckets.at(-1);
    if (last === undefined || last.start < start) {
      last = { start, completed: 0, failed: 0 };
      buckets.push(last);
      const oldest = start - (this.keep - 1) * this.bucketMs;
      while ((buckets[0]?.start ?? oldest) < oldest) buckets.shift();
    }
    last[event.state] += 1;
  }

  /** The last `keep` minutes up to and including the current one, empty minutes as zeros. */
  series(component: string, now: number): ComponentActivity {
    const current = now - (now % this.bucketMs);
    const recorded = new Map((this.byComponent.get(component) ?? []).map((b) => [b.start, b]));
    const buckets: ComponentActivity["buckets"] = [];
    for (let i = this.keep - 1; i >= 0; i -= 1) {
      const start = current - i * this.bucketMs;
      const b = recorded.get(start);
      buckets.push({ start: new Date(start).toISOString(), completed: b?.completed ?? 0, failed: b?.failed ?? 0 });
    }
    return { bucketMs: this.bucketMs, buckets };
  }
}
