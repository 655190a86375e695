import { describe, expect, it } from "vitest";
import { CircuitBreaker } from "../src/http/circuit-breaker.js";
import { jitteredBackoff, retryAfterMs } from "../src/http/retry-after.js";

function breaker() {
  const clock = { at: 0 };
  return { clock, b: new CircuitBreaker({ failureThreshold: 3, openMs: 10_000 }, () => clock.at) };
}

describe("circuit breaker", () => {
  it("opens after the threshold of consecutive failures; a success in between resets the count", () => {
    const { b } = breaker();
    b.failure();
    b.failure();
    b.success();
    b.failure();
    b.failure();
    expect(b.current).toBe("closed");
    b.failure();
    expect(b.current).toBe("open");
    expect(b.admit()).toEqual({ allowed: false, retryAfterMs: 10_000 });
  });

  it("half-open after the open period lets exactly one trial through; its success closes", () => {
    const { b, clock } = breaker();
    for (let i = 0; i < 3; i++) b.failure();
    clock.at = 10_000;
    expect(b.current).toBe("half_open");
    expect(b.admit()).toEqual({ allowed: true });
    expect(b.admit().allowed).toBe(false); // the trial is still out
    b.success();
    expect(b.current).toBe("closed");
    expect(b.admit()).toEqual({ allowed: true });
  });

  it("a failed trial opens it again for a full period", () => {
    const { b, clock } = breaker();
    for (let i = 0; i < 3; i++) b.failure();
    clock.at = 10_000;
    b.admit();
    b.failure();
    expect(b.current).toBe("open");
    clock.at = 19_999;
    expect(b.current).toBe("open");
    clock.at = 20_000;
    expect(b.current).toBe("half_open");
  });

  it("a trial that tells nothing (a 4xx) frees the trial slot without closing", () => {
    const { b, clock } = breaker();
    for (let i = 0; i < 3; i++) b.failure();
    clock.at = 10_000;
    b.admit();
    b.neutral();
    expect(b.admit()).toEqual({ allowed: true });
  });

  it("honours Retry-After: open until then at once, and for the longer of it and the period at the threshold", () => {
    const { b, clock } = breaker();
    b.failure(2_000);
    expect(b.current).toBe("open");
    clock.at = 2_000;
    expect(b.current).toBe("half_open");
    b.admit();
    b.failure(60_000);
    expect(b.admit()).toEqual({ allowed: false, retryAfterMs: 60_000 });
  });
});

describe("Retry-After and backoff", () => {
  it("reads delta-seconds and HTTP dates", () => {
    expect(retryAfterMs("7")).toBe(7_000);
    expect(retryAfterMs(new Date(65_000).toUTCString(), 5_000)).toBe(60_000);
    expect(retryAfterMs("soon")).toBeUndefined();
    expect(retryAfterMs(null)).toBeUndefined();
  });

  it("full jitter: between 0 and the doubling ceiling, capped", () => {
    expect(jitteredBackoff(0, 200, 5_000, () => 0.999)).toBe(199);
    expect(jitteredBackoff(3, 200, 5_000, () => 0.5)).toBe(800);
    expect(jitteredBackoff(10, 200, 5_000, () => 0.999)).toBe(4_995);
    expect(jitteredBackoff(2, 200, 5_000, () => 0)).toBe(0);
  });
});
