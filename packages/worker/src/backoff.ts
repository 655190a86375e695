export interface RetryPolicy {
  baseDelayMs: number;
  maxDelayMs: number;
}

export const DEFAULT_RETRY: Readonly<RetryPolicy> = Object.freeze({ baseDelayMs: 1_000, maxDelayMs: 60_000 });

/**
 * Delay before redelivering a job whose `attempt`-th delivery failed: `min(maxDelayMs, baseDelayMs · 2^(attempt−1))`
 * scaled by a random factor in [0.5, 1], so a burst of failures does not come back as a burst while the
 * delay still grows with every attempt. Pure given `random` (which returns a number in [0, 1)).
 */
export function retryDelayMs(attempt: number, policy: RetryPolicy, random: () => number = Math.random): number {
  // Past 2^30 the cap has long won; clamping keeps the arithmetic finite for absurd attempt counts.
  const exponent = Math.min(Math.max(Math.floor(attempt) - 1, 0), 30);
  const capped = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** exponent);
  const factor = 0.5 + 0.5 * Math.min(Math.max(random(), 0), 1);
  return Math.round(capped * factor);
}
