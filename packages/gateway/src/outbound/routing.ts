import type { DeliveryResult } from "../adapter.js";

/*
 * The routing table: what the sender pool does with a SendCommand after one attempt. Pure, so the table is
 * tested as a table.
 *
 *   2xx                      → ack, record `delivered`
 *   429 (rate-limited)       → nak, delay max(Retry-After, jitter)
 *   5xx / network error      → nak, delay jitter (backoff by attempt)
 *   other 4xx (permanent)    → term, dead-letter record
 *   unknown channel          → term, dead-letter record
 *   invalid envelope         → term, dead-letter record when the scope is readable
 *   local rate-limit denial  → nak, delay (wait for the reserved token + up to 250 ms of jitter)
 *   a nak on the last attempt → term, dead-letter record `max_attempts` (the stream would keep it otherwise)
 */

export type AttemptOutcome =
  | { kind: "delivery"; result: DeliveryResult }
  | { kind: "unknown_channel"; channelType: string }
  | { kind: "invalid_envelope"; detail: string }
  | { kind: "rate_denied"; waitMs: number };

export type Route =
  | { action: "ack"; record: "delivered" }
  | { action: "nak"; delayMs: number; reason: string }
  | { action: "term"; record: "dead_lettered"; reasonCode: string; detail?: string };

export interface RoutingPolicy {
  attempt: number;
  maxAttempts: number;
  /** A random number in [0, 1). */
  random: () => number;
  baseDelayMs?: number;
  maxDelayMs?: number;
}

/** Full jitter over an exponential backoff: uniform in [0, min(max, base·2^(attempt-1))], at least 100 ms. */
export function jitterDelay(policy: RoutingPolicy): number {
  const base = policy.baseDelayMs ?? 1_000;
  const cap = policy.maxDelayMs ?? 60_000;
  const ceiling = Math.min(cap, base * 2 ** Math.min(30, Math.max(0, policy.attempt - 1)));
  return Math.max(100, Math.floor(policy.random() * ceiling));
}

export function routeAttempt(outcome: AttemptOutcome, policy: RoutingPolicy): Route {
  const nak = (delayMs: number, reason: string): Route =>
    policy.attempt >= policy.maxAttempts
      ? {
          action: "term",
          record: "dead_lettered",
          reasonCode: "max_attempts",
          detail: `${policy.attempt} attempts; last: ${reason}`,
        }
      : { action: "nak", delayMs, reason };
  switch (outcome.kind) {
    case "unknown_channel":
      return {
        action: "term",
        record: "dead_lettered",
        reasonCode: "unknown_channel",
        detail: `no outbound adapter for ${outcome.channelType}`,
      };
    case "invalid_envelope":
      return { action: "term", record: "dead_lettered", reasonCode: "invalid_envelope", detail: outcome.detail };
    case "rate_denied":
      // Not an attempt at the platform: never the reason a command is dead-lettered.
      return { action: "nak", delayMs: outcome.waitMs + Math.floor(policy.random() * 250), reason: "local rate limit" };
  }
  const result = outcome.result;
  if (result.ok) return { action: "ack", record: "delivered" };
  const error = result.error;
  if (error.rateLimited) return nak(Math.max(error.retryAfterMs ?? 0, jitterDelay(policy)), error.code);
  if (error.retryable) return nak(jitterDelay(policy), error.code);
  return {
    action: "term",
    record: "dead_lettered",
    reasonCode: error.code,
    ...(error.detail !== undefined ? { detail: error.detail } : {}),
  };
}
