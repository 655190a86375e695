import type { KeyLimits } from "../types.js";
import { blockedKey, KEY_SEPARATOR } from "../store/job-storage.js";

interface KeyState {
  /** Jobs holding a slot of this key. */
  holders: Set<string>;
  tokens: number;
  refilledAt: number;
}

/**
 * Per-key concurrency and rate limits, decided when the coordinator dispatches a job (the only place
 * that sees every job of every key before any worker does). Pure: time comes in as `now`.
 *
 * Concurrency counts jobs dispatched and not yet decided (queued or running). Slots are held by job id,
 * so releasing is idempotent: a Result, a cancel and the relay noticing a decided job may all release
 * the same job without freeing a slot twice, and a release that comes before the acquire is answered by
 * the relay releasing again once it sees the job was decided. The rate is a token bucket per key
 * (burst = limit, refilled continuously). Keys are independent, so a saturated key never holds back
 * another; fairness across keys comes from the relay taking one job per key per round.
 */
export class KeyLimiter {
  private readonly keys = new Map<string, KeyState>();
  private readonly heldBy = new Map<string, string>();

  constructor(private readonly limitsOf: (component: string) => KeyLimits | undefined) {}

  /** True when the job may be dispatched now; the caller must then dispatch it or `refund` it. */
  tryAcquire(jobId: string, component: string, limitKey: string | null, now: number): boolean {
    const limits = this.limitsOf(component);
    if (limits === undefined || limitKey === null || this.heldBy.has(jobId)) return true;
    const state = this.state(component, limitKey, limits, now);
    if (limits.concurrency !== undefined && state.holders.size >= limits.concurrency) return false;
    if (limits.rate !== undefined) {
      if (state.tokens < 1) return false;
      state.tokens -= 1;
    }
    state.holders.add(jobId);
    this.heldBy.set(jobId, blockedKey(component, limitKey));
    return true;
  }

  /** The job was decided (Result, dead letter, cancel): its slot is free. Idempotent. */
  release(jobId: string): void {
    const key = this.heldBy.get(jobId);
    if (key === undefined) return;
    this.heldBy.delete(jobId);
    this.keys.get(key)?.holders.delete(jobId);
  }

  /** A publish that failed gives its rate token back too: nothing was dispatched. */
  refund(jobId: string): void {
    const key = this.heldBy.get(jobId);
    if (key === undefined) return;
    this.release(jobId);
    const limits = this.limitsOf(key.slice(0, key.indexOf(KEY_SEPARATOR)));
    const state = this.keys.get(key);
    if (limits?.rate !== undefined && state !== undefined) state.tokens = Math.min(limits.rate.limit, state.tokens + 1);
  }

  /** Restores a slot after a restart (from the store's queued jobs). */
  restore(jobId: string, component: string, limitKey: string, now: number): void {
    const limits = this.limitsOf(component);
    if (limits === undefined) return;
    this.state(component, limitKey, limits, now).holders.add(jobId);
    this.heldBy.set(jobId, blockedKey(component, limitKey));
  }

  /**
   * Keys that cannot take a job now (in the relay's `component<US>key` form), and the earliest moment a
   * rate-limited one gets a token back (undefined when none waits on a token).
   */
  blocked(now: number): { keys: string[]; nextTokenAt: number | undefined } {
    const keys: string[] = [];
    let nextTokenAt: number | undefined;
    for (const [key, state] of this.keys) {
      const limits = this.limitsOf(key.slice(0, key.indexOf(KEY_SEPARATOR)));
      if (limits === undefined) continue;
      refill(state, limits, now);
      const full = limits.concurrency !== undefined && state.holders.size >= limits.concurrency;
      const dry = limits.rate !== undefined && state.tokens < 1;
      if (full || dry) keys.push(key);
      if (!full && dry && limits.rate !== undefined) {
        const at = now + Math.ceil(((1 - state.tokens) * limits.rate.intervalMs) / limits.rate.limit);
        nextTokenAt = nextTokenAt === undefined ? at : Math.min(nextTokenAt, at);
      }
      if (state.holders.size === 0 && (limits.rate === undefined || state.tokens >= limits.rate.limit))
        this.keys.delete(key);
    }
    return { keys, nextTokenAt };
  }

  private state(component: string, limitKey: string, limits: KeyLimits, now: number): KeyState {
    const key = blockedKey(component, limitKey);
    let state = this.keys.get(key);
    if (state === undefined) {
      state = { holders: new Set(), tokens: limits.rate?.limit ?? 0, refilledAt: now };
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

/** The limit key of a job: the configured metadata field's value, "" when the job lacks it. */
export function limitKeyOf(limits: KeyLimits | undefined, metadata: Record<string, string> | undefined): string | null {
  if (limits === undefined) return null;
  return metadata?.[limits.key] ?? "";
}
