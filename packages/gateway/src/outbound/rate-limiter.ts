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

/** A denied take says how long to wait, and whether it reserved a token for that moment (see takeToken). */
export type TakeResult = { ok: true } | { ok: false; waitMs: number; reserved: boolean };

/**
 * Who takes: a command's id, and whether it is coming back after a denial. A denial that reserved a token
 * books it for its holder, and the holder's return spends that booking instead of a new token, on whichever
 * sender replica it lands (charged twice, a backlog spread over K replicas would run at 1 / K of its rate).
 */
export interface TakeHolder {
  id: string;
  returning: boolean;
}

/** What any bucket store offers the sender pool: one process's (RateLimiter) or every replica's (shared). */
export interface TokenBuckets {
  take(key: string, limit: RateLimit, holder?: TakeHolder): TakeResult | Promise<TakeResult>;
}

/** Bookings older than this are forgotten: their holder was sent by another replica, or gave up. */
export const BOOKING_TTL_MS = 2 * 60 * 60 * 1000;

/** A bucket as stored: its tokens (negative in debt) as of `atMs`, and the limit they accrue under. */
export interface BucketState {
  tokens: number;
  atMs: number;
  limit: RateLimit;
}

/**
 * The longest a denied take may wait for its reserved token. Past it the take is denied without reserving,
 * so a bucket's debt stays bounded: a backlog far beyond the rate comes back and asks again instead of
 * booking tokens for hours ahead, and a bucket left alone is full again within burst / rate plus this.
 */
export const MAX_RESERVE_MS = 60 * 60 * 1000;

/**
 * The longest burst / perSecond a limit may have: an idle bucket must refill before a store may forget it
 * (the shared store drops keys a day after their last take; a forgotten bucket comes back full).
 */
export const MAX_REFILL_MS = 23 * 60 * 60 * 1000;

export function checkRateLimit(limit: RateLimit, where: string): RateLimit {
  if (!(limit.perSecond > 0) || !Number.isFinite(limit.perSecond))
    throw new RangeError(`${where}.perSecond: expected a number above 0, got ${limit.perSecond}`);
  if (!Number.isInteger(limit.burst) || limit.burst < 1)
    throw new RangeError(`${where}.burst: expected an integer >= 1, got ${limit.burst}`);
  const refillMs = (limit.burst / limit.perSecond) * 1000;
  if (refillMs > MAX_REFILL_MS)
    throw new RangeError(
      `${where}: burst / perSecond is ${Math.round(refillMs / 1000)} s; at most ${MAX_REFILL_MS / 1000} s (a bucket must refill within a day)`,
    );
  return limit;
}

/**
 * The bucket refilled up to `nowMs` under the limit it had, then held to `limit`: a changed limit applies from
 * now on, never to the time before it.
 */
export function refillBucket(state: BucketState | undefined, limit: RateLimit, nowMs: number): BucketState {
  if (state === undefined) return { tokens: limit.burst, atMs: nowMs, limit };
  const elapsed = Math.max(0, nowMs - state.atMs) / 1000;
  const accrued = Math.min(state.limit.burst, state.tokens + elapsed * state.limit.perSecond);
  return { tokens: Math.min(limit.burst, accrued), atMs: Math.max(nowMs, state.atMs), limit };
}

/**
 * One take, as a pure step: the bucket after it, and the answer. A denied take reserves its token (the bucket
 * goes into debt) unless the wait would pass MAX_RESERVE_MS, in which case the bucket is left as it was.
 */
export function takeToken(
  state: BucketState | undefined,
  limit: RateLimit,
  nowMs: number,
): { next: BucketState; result: TakeResult } {
  const refilled = refillBucket(state, limit, nowMs);
  const tokens = refilled.tokens - 1;
  if (tokens >= 0) return { next: { ...refilled, tokens }, result: { ok: true } };
  const waitMs = Math.ceil((-tokens / limit.perSecond) * 1000);
  if (waitMs > MAX_RESERVE_MS)
    return { next: refilled, result: { ok: false, waitMs: MAX_RESERVE_MS, reserved: false } };
  return { next: { ...refilled, tokens }, result: { ok: false, waitMs, reserved: true } };
}

export interface RateLimiterOptions {
  /** Evict a bucket not used for this long (and refilled). Default 10 minutes. */
  idleMs?: number;
  now?: () => number;
}

/** One process's buckets: exact for a single sender; N senders each holding their own allow N times the rate. */
export class RateLimiter implements TokenBuckets {
  private readonly buckets = new Map<string, BucketState>();
  /** Holder id → when its booking was made. */
  private readonly bookings = new Map<string, number>();
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
  take(key: string, limit: RateLimit, holder?: TakeHolder): TakeResult {
    const now = this.now();
    this.sweep(now);
    if (holder?.returning === true && this.bookings.delete(holder.id)) return { ok: true };
    const { next, result } = takeToken(this.buckets.get(key), limit, now);
    this.buckets.set(key, next);
    if (!result.ok && result.reserved && holder !== undefined) this.bookings.set(holder.id, now);
    return result;
  }

  /** Buckets held now (for metrics and the eviction test). */
  get size(): number {
    return this.buckets.size;
  }

  private sweep(now: number): void {
    if (now - this.lastSweepMs < this.idleMs / 2) return;
    this.lastSweepMs = now;
    for (const [id, at] of this.bookings) if (now - at > BOOKING_TTL_MS) this.bookings.delete(id);
    for (const [key, bucket] of this.buckets) {
      if (now - bucket.atMs < this.idleMs) continue;
      if (refillBucket(bucket, bucket.limit, now).tokens >= bucket.limit.burst) this.buckets.delete(key);
    }
  }
}
