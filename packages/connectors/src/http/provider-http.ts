import { EgressError, type Egress } from "@tessera/egress";
import { setTimeout as sleep } from "node:timers/promises";
import { ConnectorError, ConnectorErrorCode } from "../errors.js";
import type { CircuitBreaker } from "./circuit-breaker.js";
import { jitteredBackoff, retryAfterMs } from "./retry-after.js";

export interface RetryOptions {
  /** Calls made in all, the first included. */
  attempts: number;
  /** The first backoff's ceiling; it doubles per attempt up to `capMs` (full jitter below it). */
  baseMs: number;
  capMs: number;
  /** A Retry-After longer than this is not waited for: the call fails with `retryAfterMs` for the caller. */
  maxWaitMs: number;
}

export const RETRY_DEFAULTS: RetryOptions = { attempts: 4, baseMs: 200, capMs: 5_000, maxWaitMs: 30_000 };

export interface ProviderRequest {
  method?: string;
  headers?: Record<string, string>;
  body?: string;
  /** Bytes and time for one attempt (the egress guard's caps). */
  maxBytes?: number;
  timeoutMs?: number;
}

export interface ProviderHttpOptions {
  provider: string;
  egress: Egress;
  breaker: CircuitBreaker;
  retry?: Partial<RetryOptions>;
  /** Tests make backoff instant or deterministic. */
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
}

/** Transport failures a retry may fix: the egress guard's network and timeout errors. */
const TRANSIENT = new Set(["fetch_network", "fetch_timeout"]);
const RETRY_STATUS = (status: number) => status >= 500 || status === 429;

/**
 * One provider's way out: every call goes through the egress guard, behind the provider's circuit breaker,
 * retried on 5xx, 429 and network errors with jittered backoff that honours Retry-After. Other answers (2xx,
 * 3xx, 4xx) come back as they are, for the caller to read. Retrying re-sends the request: callers send only
 * requests that are safe to repeat (token requests, reads, idempotent actions) — a token request whose answer
 * was lost is exactly the case a retry is for (docs/decisions/0027-connectors-and-vault.md).
 */
export class ProviderHttp {
  private readonly retry: RetryOptions;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly random: () => number;

  constructor(private readonly options: ProviderHttpOptions) {
    this.retry = { ...RETRY_DEFAULTS, ...options.retry };
    this.sleep = options.sleep ?? ((ms) => sleep(ms));
    this.random = options.random ?? Math.random;
  }

  get breaker(): CircuitBreaker {
    return this.options.breaker;
  }

  async fetch(url: string | URL, request: ProviderRequest = {}): Promise<Response> {
    const { provider, egress, breaker } = this.options;
    for (let attempt = 0; ; attempt++) {
      const admission = breaker.admit();
      if (!admission.allowed)
        throw new ConnectorError(
          ConnectorErrorCode.ProviderUnavailable,
          `${provider} is failing: its circuit breaker is open; try again in ${Math.ceil(admission.retryAfterMs / 1000)} s`,
          { provider, retryAfterMs: admission.retryAfterMs },
        );
      let wait: number | undefined;
      let failure: ConnectorError;
      try {
        const res = (await egress.fetch(url, {
          method: request.method ?? "GET",
          ...(request.headers !== undefined ? { headers: request.headers } : {}),
          ...(request.body !== undefined ? { body: request.body } : {}),
          ...(request.maxBytes !== undefined ? { maxBytes: request.maxBytes } : {}),
          ...(request.timeoutMs !== undefined ? { timeoutMs: request.timeoutMs } : {}),
          maxRedirects: 0,
        })) as unknown as Response;
        if (!RETRY_STATUS(res.status)) {
          if (res.status < 400) breaker.success();
          else breaker.neutral();
          return res;
        }
        await res.body?.cancel();
        wait = retryAfterMs(res.headers.get("retry-after"));
        // A 429 is this client going too fast, not the provider failing: it is waited out but opens nothing.
        if (res.status === 429) breaker.neutral();
        else breaker.failure(wait);
        failure = new ConnectorError(
          ConnectorErrorCode.ProviderUnavailable,
          `${provider} answered HTTP ${res.status} ${attempt + 1} time(s)`,
          { provider, status: res.status, ...(wait !== undefined ? { retryAfterMs: wait } : {}) },
        );
      } catch (err) {
        if (!(err instanceof EgressError)) {
          breaker.neutral();
          throw err;
        }
        if (!TRANSIENT.has(err.code)) {
          breaker.neutral();
          // Denied, too large, a bad URL: the provider's definition or answer is wrong; a retry repeats it.
          throw new ConnectorError(ConnectorErrorCode.ProviderError, `${provider}: ${err.message}`, { provider });
        }
        breaker.failure();
        failure = new ConnectorError(
          ConnectorErrorCode.ProviderUnavailable,
          `${provider} could not be reached (${err.code}) ${attempt + 1} time(s)`,
          { provider },
          { cause: err },
        );
      }
      if (attempt + 1 >= this.retry.attempts) throw failure;
      if (wait !== undefined && wait > this.retry.maxWaitMs) throw failure;
      await this.sleep(Math.max(wait ?? 0, jitteredBackoff(attempt, this.retry.baseMs, this.retry.capMs, this.random)));
    }
  }
}
