import { describe, expect, it } from "vitest";
import { WorkQueue } from "../../src/reconcile/work-queue.js";

const tick = (ms = 0): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe("WorkQueue", () => {
  it("deduplicates a key added while queued, and never runs a key concurrently with itself", async () => {
    const runs: string[] = [];
    let running = 0;
    let maxSame = 0;
    const q = new WorkQueue(
      async (key) => {
        running += 1;
        maxSame = Math.max(maxSame, running);
        runs.push(key);
        await tick(10);
        running -= 1;
      },
      { concurrency: 1 },
    );
    q.add("a");
    q.add("b");
    q.add("b");
    q.add("a"); // "a" is running: it runs once more afterwards
    await tick(1);
    q.add("a");
    await q.idle();
    await tick(30);
    await q.idle();
    expect(runs).toEqual(["a", "b", "a"]);
    expect(maxSame).toBe(1);
  });

  it("bounds concurrency across keys", async () => {
    let running = 0;
    let max = 0;
    const q = new WorkQueue(
      async () => {
        running += 1;
        max = Math.max(max, running);
        await tick(5);
        running -= 1;
      },
      { concurrency: 3 },
    );
    for (let i = 0; i < 20; i++) q.add(`k${i}`);
    await q.idle();
    expect(max).toBe(3);
  });

  it("retries a failing key with exponential, jittered backoff and resets after a success", async () => {
    const at: number[] = [];
    let failuresLeft = 3;
    const start = Date.now();
    const q = new WorkQueue(
      async () => {
        at.push(Date.now() - start);
        if (failuresLeft-- > 0) throw new Error("apiserver said 500");
      },
      { concurrency: 1, baseDelayMs: 20, maxDelayMs: 1_000, jitter: 0 },
    );
    q.add("a");
    while (at.length < 4) await tick(5);
    const gaps = at.slice(1).map((t, i) => t - (at[i] as number));
    expect(gaps[0]).toBeGreaterThanOrEqual(18);
    expect(gaps[1]).toBeGreaterThanOrEqual(38);
    expect(gaps[2]).toBeGreaterThanOrEqual(78);
    expect(q.retryDelayMs(1)).toBe(20);
    expect(q.retryDelayMs(20)).toBe(1_000);
    q.stop();
  });

  it("spreads retry delays by the jitter", () => {
    const values = [0, 1];
    const q = new WorkQueue(async () => undefined, {
      concurrency: 1,
      baseDelayMs: 100,
      jitter: 0.5,
      random: () => values.shift() ?? 0.5,
    });
    expect(q.retryDelayMs(1)).toBe(50);
    expect(q.retryDelayMs(1)).toBe(150);
  });
});
