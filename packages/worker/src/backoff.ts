export interface RetryPolicy {
  baseDelayMs: number;
  maxDelayMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { baseDelayMs: 1_000, maxDelayMs: 60_000 };

/**
 * Delay before redelivering a job whose `attempt`-th delivery failed: exponential, capped, then scaled by a
 * random factor in [0.5, 1] so a burst of failures does not come back as a burst.
 */
export function retryDelayMs(attempt: number, policy: RetryPolicy, random: () => number = Math.random): number {
  const exponent = Math.min(Math.max(attempt - 1, 0), 30);
  const capped = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** exponent);
  return Math.round(capped * (0.5 + 0.5 * random()));
}
