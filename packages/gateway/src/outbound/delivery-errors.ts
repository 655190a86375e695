import { isReasonCode } from "@tessera/contract";
import { EgressDeniedError, EgressError, FetchNetworkError, FetchTimeoutError } from "@tessera/egress";
import type { DeliveryError } from "../adapter.js";

const MAX_RETRY_AFTER_MS = 15 * 60 * 1000;

/** `Retry-After` as milliseconds: delta-seconds or an HTTP date; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | null | undefined, now: Date): number | undefined {
  if (value === null || value === undefined || value.trim() === "") return undefined;
  const text = value.trim();
  const ms = /^\d+$/.test(text) ? Number(text) * 1000 : Date.parse(text) - now.getTime();
  if (!Number.isFinite(ms)) return undefined;
  return Math.min(Math.max(ms, 0), MAX_RETRY_AFTER_MS);
}

/** The generic reading of an HTTP status: 429 rate-limited, 408 and 5xx retryable, any other 4xx permanent. */
export function deliveryErrorFromStatus(
  status: number,
  retryAfter: string | null | undefined,
  now: Date,
  detail?: string,
): DeliveryError {
  const retryAfterMs = parseRetryAfter(retryAfter, now);
  return {
    code: `http_${status}`,
    httpStatus: status,
    rateLimited: status === 429,
    retryable: status === 429 || status === 408 || status >= 500,
    ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
    ...(detail !== undefined ? { detail } : {}),
  };
}

/**
 * What a throw from the egress guard means for a delivery: a network failure or a timeout is worth another try;
 * a denial by policy never becomes allowed by trying again.
 */
export function deliveryErrorFromThrown(err: unknown): DeliveryError {
  if (err instanceof EgressDeniedError)
    return { code: err.code, detail: err.message, retryable: false, rateLimited: false };
  if (err instanceof FetchNetworkError || err instanceof FetchTimeoutError)
    return { code: err.code, detail: err.message, retryable: true, rateLimited: false };
  if (err instanceof EgressError) return { code: err.code, detail: err.message, retryable: false, rateLimited: false };
  return {
    code: "send_error",
    detail: err instanceof Error ? err.message : String(err),
    retryable: true,
    rateLimited: false,
  };
}

/** A platform's error word as a reason code, e.g. Slack's `channel_not_found` → `slack_channel_not_found`. */
export function platformCode(prefix: string, word: unknown): string {
  const candidate = `${prefix}_${String(word)
    .toLowerCase()
    .replace(/[^a-z0-9_:.-]/g, "_")}`.slice(0, 64);
  return isReasonCode(candidate) ? candidate : `${prefix}_error`;
}
