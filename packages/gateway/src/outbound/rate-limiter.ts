import type { RateLimit } from "../adapter.js";

/*
 * A denied take still reserves its token (the bucket goes into debt), and says when that token will have
 * accrued: the sender naks the command for exactly that long and, when it comes back, sends without taking again.
 * So a burst of N commands on one key is spread over N / rate seconds with each command denied once, instead of
 * every queued command being redelivered and denied over and over.
 *
 * Token buckets per key (an account, or the platform's own unit such as a Slack channel), created on first use
 * and evicted when idle. A bucket is evicted only once it has refilled, so eviction never hands out a token the
 * limit would not have: a recreated bucket starts full, exactly as the evicted one would have been.
 */

export type TakeResult = { ok: true } | { ok: false; waitMs: number };

interface Bucket {
  tokens: number;
  updatedMs: number;
  limit: RateLimit;
}

export interface RateLimiterOptions {
  /** Evict a bucket not used for this long (and refilled). Default 10 minutes. */
  idleMs?: number;
  now?: () => number;
}

export function checkRateLimit(limit: RateLimit, where: string): RateLimit {
  if (!(limit.perSecond > 0) || !Number.isFinite(limit.perSecond))
    throw new RangeError(`${where}.perSecond: expected a number above 0, got ${limit.perSecond}`);
  if (!Number.isInteger(limit.burst) || limit.burst < 1)
    throw new RangeError(`${where}.burst: expected an integer >= 1, got ${limit.burst}`);
  return limit;
}

export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();
  private readonly idleMs: number;
  private readonly now: () => number;
  private lastSweepMs: number;

  constructor(options: RateLimiterOptions = {}) {
    this.idleMs = options.idleMs ?? 10 * 60 * 1000;
    this.now = options.now ?? (() => Date.now());
    this.lastSweepMs = this.now();
  }

  /**
   * Takes one token from `key`'s bucket under `limit` (a changed limit applies from this call on). When none is
   * left it is reserved all the same, and `waitMs` says when it will have accrued.
   */
  take(key: string, limit: RateLimit): TakeResult {
    const now = this.now();
    this.sweep(now);
    let bucket = this.buckets.get(key);
    if (bucket === undefined) {
      bucket = { tokens: limit.burst, updatedMs: now, limit };
      this.buckets.set(key, bucket);
    } else {
      this.refill(bucket, now);
      bucket.limit = limit;
      bucket.tokens = Math.min(bucket.tokens, limit.burst);
    }
    bucket.tokens -= 1;
    if (bucket.tokens >= 0) return { ok: true };
    return { ok: false, waitMs: Math.ceil((-bucket.tokens / limit.perSecond) * 1000) };
  }

  /** Buckets held now (for metrics and the eviction test). */
  get size(): number {
    return this.buckets.size;
  }

  private refill(bucket: Bucket, now: number): void {
    const elapsed = Math.max(0, now - bucket.updatedMs) / 1000;
    bucket.tokens = Math.min(bucket.limit.burst, bucket.tokens + elapsed * bucket.limit.perSecond);
    bucket.updatedMs = now;
  }

  private sweep(now: number): void {
    if (now - this.lastSweepMs < this.idleMs / 2) return;
    this.lastSweepMs = now;
    for (const [key, bucket] of this.buckets) {
      if (now - bucket.updatedMs < this.idleMs) continue;
      this.refill(bucket, now);
      if (bucket.tokens >= bucket.limit.burst) this.buckets.delete(key);
    }
  }
}
