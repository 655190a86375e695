import { describe, expect, it } from "vitest";
import {
  MAX_RESERVE_MS,
  RateLimiter,
  routeAttempt,
  takeToken,
  type AttemptOutcome,
  type BucketState,
  type DeliveryError,
} from "@tessera/gateway";

describe("RateLimiter", () => {
  const clock = { ms: 0 };
  const limiter = () => new RateLimiter({ now: () => clock.ms, idleMs: 60_000 });

  it("allows the burst, then one token per 1/rate, reserving a denied token and saying when it accrues", () => {
    clock.ms = 0;
    const l = limiter();
    const limit = { perSecond: 2, burst: 3 };
    expect([1, 2, 3].map(() => l.take("a", limit).ok)).toEqual([true, true, true]);
    expect(l.take("a", limit)).toEqual({ ok: false, waitMs: 500, reserved: true });
    // The denied take reserved its token: the next one waits behind it.
    expect(l.take("a", limit)).toEqual({ ok: false, waitMs: 1000, reserved: true });
    clock.ms = 1000;
    expect(l.take("a", limit)).toEqual({ ok: false, waitMs: 500, reserved: true });
    clock.ms = 2000;
    expect(l.take("a", limit).ok).toBe(true);
  });

  it("keeps keys apart and applies a per-account override from the next take", () => {
    clock.ms = 0;
    const l = limiter();
    expect(l.take("busy", { perSecond: 1, burst: 1 }).ok).toBe(true);
    expect(l.take("busy", { perSecond: 1, burst: 1 }).ok).toBe(false);
    expect(l.take("quiet", { perSecond: 1, burst: 1 }).ok).toBe(true);
    // The reservation made under the old limit stands; the faster override shortens what comes after it.
    clock.ms = 1000;
    expect(l.take("busy", { perSecond: 100, burst: 5 })).toEqual({ ok: false, waitMs: 10, reserved: true });
  });

  it("a returning holder spends its booking instead of a new token; a booking is spent once", () => {
    clock.ms = 0;
    const l = limiter();
    const limit = { perSecond: 1, burst: 1 };
    expect(l.take("k", limit, { id: "c1", returning: false })).toEqual({ ok: true });
    expect(l.take("k", limit, { id: "c2", returning: false })).toEqual({ ok: false, waitMs: 1000, reserved: true });
    clock.ms = 1000;
    expect(l.take("k", limit, { id: "c2", returning: true })).toEqual({ ok: true });
    // The booked token was the one that accrued: the next holder waits for the one after it.
    expect(l.take("k", limit, { id: "c3", returning: false })).toEqual({ ok: false, waitMs: 1000, reserved: true });
    clock.ms = 2000;
    expect(l.take("k", limit, { id: "c2", returning: true })).toEqual({ ok: false, waitMs: 1000, reserved: true });
  });

  it("books no token more than MAX_RESERVE_MS ahead: deeper debt is denied without reserving", () => {
    const limit = { perSecond: 1, burst: 1 };
    let state: BucketState | undefined;
    const waits: [number, boolean][] = [];
    for (let i = 0; i < 3_603; i++) {
      const { next, result } = takeToken(state, limit, 0);
      state = next;
      if (!result.ok) waits.push([result.waitMs, result.reserved]);
    }
    expect(waits[0]).toEqual([1000, true]);
    expect(waits[3_599]).toEqual([MAX_RESERVE_MS, true]);
    expect(waits.slice(3_600)).toEqual([
      [MAX_RESERVE_MS, false],
      [MAX_RESERVE_MS, false],
    ]);
    expect(state).toEqual({ tokens: -3_600, atMs: 0, limit });
  });

  it("evicts a bucket idle for idleMs once it has refilled, and never one still in debt", () => {
    clock.ms = 0;
    const l = limiter();
    l.take("idle", { perSecond: 1, burst: 2 });
    for (let i = 0; i < 200; i++) l.take("indebted", { perSecond: 0.001, burst: 1 });
    expect(l.size).toBe(2);
    clock.ms = 61_000;
    l.take("fresh", { perSecond: 1, burst: 1 });
    expect(l.size).toBe(2); // "idle" gone; "indebted" still owes tokens, so it stays
  });
});

describe("routing table", () => {
  const policy = { attempt: 1, maxAttempts: 5, random: () => 0.5 };
  const failure = (e: Partial<DeliveryError>): AttemptOutcome => ({
    kind: "delivery",
    result: { ok: false, error: { code: "x", retryable: false, rateLimited: false, ...e } },
  });
  const rows: [string, AttemptOutcome, object][] = [
    ["2xx", { kind: "delivery", result: { ok: true, httpStatus: 200 } }, { action: "ack", record: "delivered" }],
    [
      "429 with Retry-After 7 s",
      failure({ code: "http_429", rateLimited: true, retryable: true, retryAfterMs: 7000 }),
      { action: "nak", delayMs: 7000 },
    ],
    [
      "429 without Retry-After",
      failure({ code: "http_429", rateLimited: true, retryable: true }),
      { action: "nak", delayMs: 500 },
    ],
    ["5xx", failure({ code: "http_503", retryable: true, httpStatus: 503 }), { action: "nak", delayMs: 500 }],
    ["network error", failure({ code: "fetch_network", retryable: true }), { action: "nak", delayMs: 500 }],
    [
      "other 4xx",
      failure({ code: "http_404", httpStatus: 404 }),
      { action: "term", record: "dead_lettered", reasonCode: "http_404" },
    ],
    [
      "unknown channel",
      { kind: "unknown_channel", channelType: "teams" },
      { action: "term", reasonCode: "unknown_channel" },
    ],
    ["local rate-limit denial", { kind: "rate_denied", waitMs: 2000 }, { action: "nak", delayMs: 2125 }],
  ];
  it.each(rows)("%s", (_name, outcome, expected) => {
    expect(routeAttempt(outcome, policy)).toMatchObject(expected);
  });

  it("backs off exponentially with full jitter, and dead-letters a retryable failure on the last attempt", () => {
    const fiveHundred = failure({ code: "http_500", retryable: true });
    expect(routeAttempt(fiveHundred, { ...policy, attempt: 3 })).toMatchObject({ delayMs: 2000 });
    expect(routeAttempt(fiveHundred, { ...policy, attempt: 5 })).toMatchObject({
      action: "term",
      reasonCode: "max_attempts",
    });
    // A local denial is not an attempt at the platform: never the reason for a dead letter.
    expect(routeAttempt({ kind: "rate_denied", waitMs: 10 }, { ...policy, attempt: 9 })).toMatchObject({
      action: "nak",
    });
  });
});
