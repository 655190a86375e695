/**
 * The submitter of a fault run: what a monolith calling the admin API would do. Each job has an
 * idempotency key; a submit that fails (connection refused while the coordinator is dead, a 5xx, a
 * timeout with the outcome unknown) is retried with the same key until it is accepted, so a retry of a
 * submit that had in fact been committed returns the same job (`created: false`) instead of a second one.
 */
import { setTimeout as sleep } from "node:timers/promises";
import type { SubmitResponse } from "./audit.js";

export interface SubmitterStats {
  /** HTTP requests sent. */
  attempts: number;
  /** Attempts that failed and were retried (coordinator down, store down, timeouts). */
  retries: number;
  /** Accepted responses with `created: false`: an earlier attempt had committed the job. */
  deduplicated: number;
  /** Keys refused with a 4xx (not retried: a bug in the request, reported). */
  refused: Array<{ key: string; status: number; body: string }>;
}

export interface SubmitterOptions {
  /**
   * The coordinators' admin API base URLs (each stable across restarts). A key's first attempt goes to one
   * of them in turn; a failed attempt is retried on the next, as a load balancer in front of replicas would.
   */
  urls: readonly string[];
  component: string;
  keys: readonly string[];
  input: (index: number) => unknown;
  /** The job's metadata (e.g. the key its limits are counted by). */
  metadata?: (index: number) => Record<string, string>;
  concurrency: number;
  /** Per-request timeout. Default 5 s. */
  requestTimeoutMs?: number;
  /** Gives up on a key after this long (it stays not accepted). Default: never. */
  deadline?: number;
  signal?: AbortSignal;
}

export class Submitter {
  readonly responses: SubmitResponse[] = [];
  readonly stats: SubmitterStats = { attempts: 0, retries: 0, deduplicated: 0, refused: [] };
  /** Keys accepted so far. */
  accepted = 0;

  constructor(private readonly opts: SubmitterOptions) {}

  async run(): Promise<void> {
    let next = 0;
    const lane = async (): Promise<void> => {
      while (next < this.opts.keys.length && this.opts.signal?.aborted !== true) {
        const index = next++;
        await this.submit(index);
      }
    };
    await Promise.all(Array.from({ length: this.opts.concurrency }, lane));
  }

  private async submit(index: number): Promise<void> {
    const key = this.opts.keys[index] as string;
    const body = JSON.stringify({
      component: this.opts.component,
      input: { json: this.opts.input(index) },
      idempotencyKey: key,
      ...(this.opts.metadata !== undefined ? { metadata: this.opts.metadata(index) } : {}),
    });
    for (let failures = 0; ; failures++) {
      if (this.opts.signal?.aborted === true || (this.opts.deadline !== undefined && Date.now() > this.opts.deadline))
        return;
      this.stats.attempts += 1;
      try {
        const url = this.opts.urls[(index + failures) % this.opts.urls.length] as string;
        const res = await fetch(`${url}/api/v1/jobs`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body,
          signal: AbortSignal.timeout(this.opts.requestTimeoutMs ?? 5_000),
        });
        const text = await res.text();
        if (res.status === 200 || res.status === 201) {
          const outcome = JSON.parse(text) as { jobId: string; created: boolean };
          this.responses.push({ key, jobId: outcome.jobId, created: outcome.created });
          if (!outcome.created) this.stats.deduplicated += 1;
          this.accepted += 1;
          return;
        }
        if (res.status >= 400 && res.status < 500) {
          this.stats.refused.push({ key, status: res.status, body: text.slice(0, 500) });
          return;
        }
      } catch {
        // connection refused or reset, timeout: the outcome is unknown, so retry with the same key
      }
      this.stats.retries += 1;
      await sleep(Math.min(1_000, 50 * 2 ** Math.min(failures, 5)));
    }
  }
}
