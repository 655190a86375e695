import type { KeyLimits } from "../types.js";
import { KEY_SEPARATOR } from "../store/job-store.js";

interface KeyState {
  active: number;
  tokens: number;
  refilledAt: number;
}

/**
 * Per-key concurrency and rate limits, decided when the coordinator dispatches a job (the only place
 * that sees every job of every key before any worker does). Pure: time comes in as `now`.
 *
 * Concurrency counts jobs dispatched and not yet decided (queued or running). The rate is a token
 * bucket per key (burst = limit, refilled continuously). Keys are independent, so a saturated key never
 * holds back another; fairness across keys comes from the relay taking one job per key per round.
 */
export class KeyLimiter {
  private readonly keys = new Map<string, KeyState>();

  constructor(private readonly limitsOf: (component: string) => KeyLimits | undefined) {}

  /** True when the job may be dispatched now; the caller must then dispatch it or `release` it. */
  tryAcquire(component: string, limitKey: string | null, now: number): boolean {
    const limits = this.limitsOf(component);
    if (limits === undefined || limitKey === null) return true;
    const state = this.state(component, limitKey, limits, now);
    if (limits.concurrency !== undefined && state.active >= limits.concurrency) return false;
    if (limits.rate !== undefined) {
      if (state.tokens < 1) return false;
      state.tokens -= 1;
    }
    state.active += 1;
    return true;
  }

  /** A dispatched job was decided (result, dead letter, cancel) or its publish failed. */
  release(component: string, limitKey: string | null): void {
    if (limitKey === null) return;
    const state = this.keys.get(mapKey(component, limitKey));
    if (state !== undefined && state.active > 0) state.active -= 1;
  }

  /** A publish that failed gives its rate token back too: nothing was dispatched. */
  refund(component: string, limitKey: string | null): void {
    this.release(component, limitKey);
    if (limitKey === null) return;
    const limits = this.limitsOf(component);
    const state = this.keys.get(mapKey(component, limitKey));
    if (limits?.rate !== undefined && state !== undefined) state.tokens = Math.min(limits.rate.limit, state.tokens + 1);
  }

  /** Restores the in-flight count after a restart (from the store's queued jobs). */
  setActive(component: string, limitKey: string, active: number, now: number): void {
    const limits = this.limitsOf(component);
    if (limits === undefined) return;
    this.state(component, limitKey, limits, now).active = active;
  }

  /**
   * Keys that cannot take a job now (in the relay's `component<US>key` form), and the earliest moment a
   * rate-limited one gets a token back (undefined when none waits on a token).
   */
  blocked(now: number): { keys: string[]; nextTokenAt: number | undefined } {
    const keys: string[] = [];
    let nextTokenAt: number | undefined;
    for (const [key, state] of this.keys) {
      const component = key.slice(0, key.indexOf(KEY_SEPARATOR));
      const limits = this.limitsOf(component);
      if (limits === undefined) continue;
      refill(state, limits, now);
      const full = limits.concurrency !== undefined && state.active >= limits.concurrency;
      const dry = limits.rate !== undefined && state.tokens < 1;
      if (full || dry) keys.push(key);
      if (!full && dry && limits.rate !== undefined) {
        const at = now + Math.ceil(((1 - state.tokens) * limits.rate.intervalMs) / limits.rate.limit);
        nextTokenAt = nextTokenAt === undefined ? at : Math.min(nextTokenAt, at);
      }
      if (state.active === 0 && (limits.rate === undefined || state.tokens >= limits.rate.limit)) this.keys.delete(key);
    }
    return { keys, nextTokenAt };
  }

  activeCount(component: string, limitKey: string): number {
    return this.keys.get(mapKey(component, limitKey))?.active ?? 0;
  }

  private state(component: string, limitKey: string, limits: KeyLimits, now: number): KeyState {
    const key = mapKey(component, limitKey);
    let state = this.keys.get(key);
    if (state === undefined) {
      state = { active: 0, tokens: limits.rate?.limit ?? 0, refilledAt: now };
      this.keys.set(key, state);
    }
    refill(state, limits, now);
    return state;
  }
}

function refill(state: KeyState, limits: KeyLimits, now: number): void {
  if (limits.rate === undefined) return;
  const elapsed = now - state.refilledAt;
  if (elapsed <= 0) return;
  state.tokens = Math.min(limits.rate.limit, state.tokens + (elapsed * limits.rate.limit) / limits.rate.intervalMs);
  state.refilledAt = now;
}

function mapKey(component: string, limitKey: string): string {
  return `${component}${KEY_SEPARATOR}${limitKey}`;
}

/** The limit key of a job: the configured metadata field's value, "" when the job lacks it. */
export function limitKeyOf(limits: KeyLimits | undefined, metadata: Record<string, string> | undefined): string | null {
  if (limits === undefined) return null;
  return metadata?.[limits.key] ?? "";
}
