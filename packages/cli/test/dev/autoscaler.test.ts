import { sleep, waitFor } from "@tessera/testkit";
import { afterEach, describe, expect, it, vi } from "vitest";
import { createAutoscaler, type AutoscaledComponent, type ScaleEvent } from "../../src/dev/autoscaler.js";
import type { WorkerPool } from "../../src/dev/worker-pool.js";

/** A pool that only counts: scale() sets the count, crash() takes a worker away as if it died. */
function fakePool(names: string[]): WorkerPool & { calls: Array<[string, number]>; crash(name: string): void } {
  const counts = new Map(names.map((n) => [n, 0]));
  const calls: Array<[string, number]> = [];
  return {
    calls,
    scale(name, n) {
      calls.push([name, n]);
      counts.set(name, n);
    },
    replicas: (name) => counts.get(name) ?? 0,
    stopAll: async () => undefined,
    crash: (name) => counts.set(name, (counts.get(name) ?? 1) - 1),
  };
}

const extract: AutoscaledComponent = {
  name: "extract",
  minReplicas: 0,
  maxReplicas: 3,
  queueDepthTarget: 5,
  cooldownMs: 10_000,
};

afterEach(() => {
  vi.useRealTimers();
});

describe("createAutoscaler", () => {
  it("follows the lag: up at once, down to 0 only after the cooldown", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    const lag = new Map([["extract", 0]]);
    const pool = fakePool(["extract"]);
    const events: ScaleEvent[] = [];
    const scaler = createAutoscaler({
      components: [extract],
      queueDepth: async (n) => lag.get(n) ?? 0,
      pool,
      onScale: (e) => events.push(e),
    });

    await scaler.tick();
    expect(scaler.status()).toEqual({ extract: { replicas: 0, desired: 0, lag: 0, active: false } });
    expect(pool.calls).toEqual([]);

    lag.set("extract", 12);
    await scaler.tick();
    expect(scaler.status()["extract"]).toEqual({ replicas: 3, desired: 3, lag: 12, active: true });
    lag.set("extract", 4);
    await scaler.tick();
    expect(pool.replicas("extract")).toBe(1);

    lag.set("extract", 0);
    vi.advanceTimersByTime(9_999);
    await scaler.tick();
    expect(scaler.status()["extract"]).toEqual({ replicas: 1, desired: 1, lag: 0, active: false });
    vi.advanceTimersByTime(1);
    await scaler.tick();
    expect(pool.replicas("extract")).toBe(0);
    expect(events.map((e) => [e.from, e.to, e.active])).toEqual([
      [0, 3, true],
      [3, 1, true],
      [1, 0, false],
    ]);
  });

  it("restarts a crashed worker on the next evaluation", async () => {
    const pool = fakePool(["extract"]);
    const scaler = createAutoscaler({ components: [extract], queueDepth: async () => 20, pool });
    await scaler.tick();
    pool.crash("extract");
    expect(pool.replicas("extract")).toBe(2);
    await scaler.tick();
    expect(pool.replicas("extract")).toBe(3);
  });

  it("keeps the replicas and reports the error when the lag cannot be read; other components go on", async () => {
    const other: AutoscaledComponent = { ...extract, name: "other" };
    const pool = fakePool(["extract", "other"]);
    let failing = false;
    const errors: Array<[string, string]> = [];
    const scaler = createAutoscaler({
      components: [extract, other],
      queueDepth: async (n) => {
        if (n === "extract" && failing) throw new Error("nats: timeout");
        return 11;
      },
      pool,
      onError: (component, err) => errors.push([component, err.message]),
    });
    await scaler.tick();
    pool.crash("extract");
    failing = true;
    await scaler.tick();
    expect(errors).toEqual([["extract", "nats: timeout"]]);
    expect(scaler.status()["extract"]).toEqual({
      replicas: 2,
      desired: 3,
      lag: 11,
      active: true,
      error: "nats: timeout",
    });
    expect(scaler.status()["other"]?.replicas).toBe(3);
    failing = false;
    await scaler.tick();
    expect(scaler.status()["extract"]).toEqual({ replicas: 3, desired: 3, lag: 11, active: true });
  });

  it("reports a queueDepth that is not a count, and a pool that fails to scale, without stopping", async () => {
    const pool = fakePool(["extract"]);
    const errors: string[] = [];
    let depth = Number.NaN;
    const scaler = createAutoscaler({
      components: [extract],
      queueDepth: async () => depth,
      pool: {
        ...pool,
        scale: () => {
          throw new Error("spawn EAGAIN");
        },
      },
      onError: (_c, err) => errors.push(err.message),
    });
    await scaler.tick();
    depth = 3;
    await scaler.tick();
    expect(errors).toEqual(['queueDepth("extract") returned NaN: expected an integer >= 0', "spawn EAGAIN"]);
  });

  it("never overlaps evaluations: a slow read makes the loop wait, and tick() joins the running one", async () => {
    const pool = fakePool(["extract"]);
    let inFlight = 0;
    let maxInFlight = 0;
    let reads = 0;
    const scaler = createAutoscaler({
      components: [extract],
      intervalMs: 5,
      queueDepth: async () => {
        reads++;
        maxInFlight = Math.max(maxInFlight, ++inFlight);
        await sleep(30);
        inFlight--;
        return 0;
      },
      pool,
    });
    scaler.start();
    scaler.start();
    await Promise.all([scaler.tick(), scaler.tick()]);
    await waitFor("a few evaluations", () => reads >= 4);
    await scaler.stop();
    const after = reads;
    await sleep(60);
    expect(maxInFlight).toBe(1);
    expect(reads).toBe(after);
  });

  it("refuses settings KEDA would refuse, naming the component and field", () => {
    const make = (c: Partial<AutoscaledComponent>) => () =>
      createAutoscaler({ components: [{ ...extract, ...c }], queueDepth: async () => 0, pool: fakePool([]) });
    expect(make({ minReplicas: 4 })).toThrow('component "extract": minReplicas (4) is above maxReplicas (3)');
    expect(make({ maxReplicas: 0, minReplicas: 0 })).toThrow("maxReplicas: expected an integer >= 1, got 0");
    expect(make({ queueDepthTarget: 0 })).toThrow("queueDepthTarget: expected a number above 0");
    expect(make({ cooldownMs: -1 })).toThrow("cooldownMs: expected a number >= 0");
    expect(() =>
      createAutoscaler({ components: [extract, extract], queueDepth: async () => 0, pool: fakePool([]) }),
    ).toThrow("each component may appear once");
  });
});
