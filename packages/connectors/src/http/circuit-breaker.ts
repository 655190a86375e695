/** The breaker's states, as the literature names them. */
export const BreakerState = { Closed: "closed", Open: "open", HalfOpen: "half_open" } as const;
export type BreakerState = (typeof BreakerState)[keyof typeof BreakerState];

export interface BreakerOptions {
  /** Consecutive failures (5xx, network) that open the breaker. */
  failureThreshold: number;
  /** How long it stays open before one trial call is let through; a longer Retry-After wins. */
  openMs: number;
}

export const BREAKER_DEFAULTS: BreakerOptions = { failureThreshold: 5, openMs: 30_000 };

/** The answer to "may I call?": yes, or no and for how long. */
export type Admission = { allowed: true } | { allowed: false; retryAfterMs: number };

/**
 * One provider's circuit breaker: closed (calls pass, failures counted), open (calls fail at once until the
 * open period ends), half-open (one trial call passes; its success closes the breaker, its failure opens it
 * again). One per provider and process: a provider that is down is down for every user, and a replica learns
 * it from its own calls within `failureThreshold` of them.
 */
export class CircuitBreaker {
  private state: BreakerState = BreakerState.Closed;
  private failures = 0;
  private openUntil = 0;
  private trialInFlight = false;

  constructor(
    private readonly options: BreakerOptions = BREAKER_DEFAULTS,
    private readonly now: () => number = Date.now,
  ) {}

  get current(): BreakerState {
    if (this.state === BreakerState.Open && this.now() >= this.openUntil) return BreakerState.HalfOpen;
    return this.state;
  }

  admit(): Admission {
    const state = this.current;
    if (state === BreakerState.Closed) return { allowed: true };
    if (state === BreakerState.HalfOpen && !this.trialInFlight) {
      this.state = BreakerState.HalfOpen;
      this.trialInFlight = true;
      return { allowed: true };
    }
    // Open, or half-open with its one trial still out: come back when the open period ends (at least 1 s).
    return { allowed: false, retryAfterMs: Math.max(1_000, this.openUntil - this.now()) };
  }

  success(): void {
    this.state = BreakerState.Closed;
    this.failures = 0;
    this.trialInFlight = false;
  }

  /**
   * A 5xx or a network failure. `retryAfterMs`, from the provider's Retry-After, is the provider saying when
   * to come back: the breaker opens until then at once, threshold or not (a retry that waits it out is the
   * half-open trial). At the threshold it opens for `openMs`, or the Retry-After if longer.
   */
  failure(retryAfterMs?: number): void {
    this.failures++;
    const trialFailed = this.state === BreakerState.HalfOpen;
    this.trialInFlight = false;
    const now = this.now();
    if (trialFailed || this.failures >= this.options.failureThreshold) {
      this.state = BreakerState.Open;
      this.openUntil = now + Math.max(this.options.openMs, retryAfterMs ?? 0);
    } else if (retryAfterMs !== undefined && retryAfterMs > 0) {
      this.state = BreakerState.Open;
      this.openUntil = Math.max(this.openUntil, now + retryAfterMs);
    }
  }

  /** A call that ended without telling anything about the provider's health (a 4xx, an abort). */
  neutral(): void {
    if (this.state === BreakerState.HalfOpen) this.trialInFlight = false;
  }
}
