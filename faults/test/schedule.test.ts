import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { countKills, emptyKillCounts, KILL_KINDS, planChaos, prng, type KillCounts } from "../src/schedule.js";

const kills: KillCounts = {
  worker: 5,
  midHandler: 4,
  coordinator: 3,
  commitBeforePublish: 2,
  publishBeforeMark: 2,
  nats: 3,
  leaseHolder: 2,
  rollingRestart: 1,
};

describe("prng", () => {
  it("is deterministic per seed and stays in [0, 1)", () => {
    const a = prng(42);
    const b = prng(42);
    const xs = Array.from({ length: 1_000 }, () => a());
    expect(Array.from({ length: 1_000 }, () => b())).toEqual(xs);
    expect(xs.every((x) => x >= 0 && x < 1)).toBe(true);
    expect(prng(43)()).not.toBe(prng(42)());
    // Roughly uniform: each tenth gets 5-15% of the draws.
    const tenths = Array.from({ length: 10 }, (_, i) => xs.filter((x) => Math.floor(x * 10) === i).length);
    expect(Math.min(...tenths)).toBeGreaterThan(50);
    expect(Math.max(...tenths)).toBeLessThan(150);
  });
});

describe("planChaos", () => {
  it("plans exactly the requested kills, sorted by progress, the same for the same seed", () => {
    const plan = planChaos({ seed: 7, kills });
    expect(countKills(plan)).toEqual(kills);
    expect(plan.map((e) => e.at)).toEqual([...plan.map((e) => e.at)].sort((x, y) => x - y));
    expect(planChaos({ seed: 7, kills })).toEqual(plan);
    expect(planChaos({ seed: 8, kills })).not.toEqual(plan);
  });

  it("puts the relay's kill points in the submit window and every other event in the run window", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 31 }), (seed) => {
        for (const e of planChaos({ seed, kills, submitWindow: [0.1, 0.4], window: [0.05, 0.8] })) {
          const relay = e.kind === "commitBeforePublish" || e.kind === "publishBeforeMark";
          const [lo, hi] = relay ? [0.1, 0.4] : [0.05, 0.8];
          if (!(e.at >= lo && e.at < hi)) return false;
        }
        return true;
      }),
    );
  });

  it("spreads the events of a kind over its window (one per equal slice)", () => {
    const plan = planChaos({ seed: 3, kills: { ...emptyKillCounts(), worker: 4 }, window: [0, 0.8] });
    expect(plan.map((e) => Math.floor(e.at / 0.2))).toEqual([0, 1, 2, 3]);
  });

  it("gives mid-handler kills a point, worker kills a slot, and nats a downtime in range", () => {
    const plan = planChaos({ seed: 11, kills, natsDownMs: [300, 400], restartDelayMs: [0, 50] });
    for (const e of plan) {
      if (e.kind === "midHandler") expect(["before-effect", "after-effect"]).toContain(e.point);
      else expect(e.point).toBeUndefined();
      if (e.kind === "worker" || e.kind === "midHandler") expect(e.worker).toEqual(expect.any(Number));
      if (e.kind === "nats") expect(e.downMs).toBeGreaterThanOrEqual(300);
      if (e.kind === "nats") expect(e.downMs).toBeLessThanOrEqual(400);
      else expect(e.downMs).toBeLessThanOrEqual(50);
    }
  });

  it("plans nothing for zero kills and refuses bad counts and windows", () => {
    expect(planChaos({ seed: 1, kills: emptyKillCounts() })).toEqual([]);
    expect(() => planChaos({ seed: 1, kills: { ...emptyKillCounts(), nats: -1 } })).toThrow(
      "kills.nats: expected an integer >= 0, got -1",
    );
    expect(() => planChaos({ seed: 1, kills, window: [0.5, 0.2] })).toThrow(
      "window: expected 0 <= lo < hi <= 1, got [0.5, 0.2]",
    );
  });

  it("knows every kind", () => {
    expect(Object.keys(emptyKillCounts()).sort()).toEqual([...KILL_KINDS].sort());
  });
});
