import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { Keepalive } from "../src/keepalive.js";

describe("Keepalive", () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  const delivery = (ackWaitMs: number) => ({ ackWaitMs, working: vi.fn() });

  it("keeps every running delivery alive each third of the ack wait, with one timer", () => {
    const k = new Keepalive(10);
    const a = delivery(3_000);
    const b = delivery(3_000);
    k.add(a);
    vi.advanceTimersByTime(500);
    k.add(b);
    expect(vi.getTimerCount()).toBe(1);
    vi.advanceTimersByTime(500); // t = 1000: the first tick
    expect(a.working).toHaveBeenCalledTimes(1);
    expect(b.working).toHaveBeenCalledTimes(1);
    k.delete(a);
    vi.advanceTimersByTime(1_000);
    expect(a.working).toHaveBeenCalledTimes(1);
    expect(b.working).toHaveBeenCalledTimes(2);
  });

  it("stops at the first tick with nothing to keep alive, and starts again for the next delivery", () => {
    const k = new Keepalive(10);
    const a = delivery(300);
    k.add(a);
    k.delete(a);
    vi.advanceTimersByTime(100);
    expect(vi.getTimerCount()).toBe(0);
    const b = delivery(300);
    k.add(b);
    vi.advanceTimersByTime(100);
    expect(b.working).toHaveBeenCalledTimes(1);
  });

  it("ticks faster when a delivery with a shorter ack wait arrives, never below the minimum", () => {
    const k = new Keepalive(50);
    const slow = delivery(30_000);
    const fast = delivery(90);
    k.add(slow);
    k.add(fast); // a third of 90 ms is 30 ms: the minimum, 50 ms, applies
    vi.advanceTimersByTime(50);
    expect(fast.working).toHaveBeenCalledTimes(1);
    expect(slow.working).toHaveBeenCalledTimes(1);
    expect(vi.getTimerCount()).toBe(1);
  });
});
