import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { kedaDesiredReplicas, type KedaInput } from "../../src/dev/keda-formula.js";

const base: KedaInput = {
  lag: 0,
  currentReplicas: 0,
  minReplicas: 0,
  maxReplicas: 10,
  queueDepthTarget: 5,
  lastActiveAt: undefined,
  now: 100_000,
  cooldownMs: 30_000,
};
const decide = (overrides: Partial<KedaInput>) => kedaDesiredReplicas({ ...base, ...overrides });

describe("kedaDesiredReplicas", () => {
  it("activates from zero on any lag above the activation lag: ceil(lag / target) replicas", () => {
    expect(decide({ lag: 1 })).toEqual({ desired: 1, active: true, lastActiveAt: 100_000 });
    expect(decide({ lag: 5 }).desired).toBe(1);
    expect(decide({ lag: 6 }).desired).toBe(2);
    expect(decide({ lag: 23 }).desired).toBe(5);
  });

  it("caps at maxReplicas and keeps at least max(minReplicas, 1) while active", () => {
    expect(decide({ lag: 1_000 }).desired).toBe(10);
    expect(decide({ lag: 1, minReplicas: 3 }).desired).toBe(3);
    expect(decide({ lag: 1, minReplicas: 0 }).desired).toBe(1);
  });

  it("is inactive at or below activationLag (strictly greater activates, as KEDA's IsActive)", () => {
    expect(decide({ lag: 15, activationLag: 15 })).toEqual({ desired: 0, active: false, lastActiveAt: undefined });
    expect(decide({ lag: 16, activationLag: 15 })).toMatchObject({ desired: 4, active: true });
  });

  it("scales down while active without waiting (no HPA stabilization window locally)", () => {
    expect(decide({ lag: 6, currentReplicas: 8, lastActiveAt: 99_000 }).desired).toBe(2);
  });

  it("keeps the current replicas while cooling down, then goes to minReplicas", () => {
    const lastActiveAt = 100_000;
    expect(decide({ currentReplicas: 4, lastActiveAt, now: lastActiveAt + 29_999 })).toEqual({
      desired: 4,
      active: false,
      lastActiveAt,
    });
    expect(decide({ currentReplicas: 4, lastActiveAt, now: lastActiveAt + 30_000 })).toEqual({
      desired: 0,
      active: false,
      lastActiveAt,
    });
    expect(decide({ currentReplicas: 4, minReplicas: 2, lastActiveAt, now: lastActiveAt + 30_000 }).desired).toBe(2);
  });

  it("restores one replica during the cooldown if the workers went away (the HPA's floor is 1)", () => {
    expect(decide({ currentReplicas: 0, lastActiveAt: 90_000 }).desired).toBe(1);
  });

  it("goes straight to minReplicas when it was never active (cooldown only follows activity)", () => {
    expect(decide({ currentReplicas: 3, lastActiveAt: undefined }).desired).toBe(0);
    expect(decide({ currentReplicas: 0, minReplicas: 2, lastActiveAt: undefined }).desired).toBe(2);
  });

  const inputs = fc
    .record({
      lag: fc.nat({ max: 10_000 }),
      currentReplicas: fc.nat({ max: 50 }),
      minReplicas: fc.nat({ max: 20 }),
      extra: fc.nat({ max: 30 }),
      queueDepthTarget: fc.integer({ min: 1, max: 100 }),
      activationLag: fc.nat({ max: 50 }),
      sinceActive: fc.option(fc.nat({ max: 100_000 }), { nil: undefined }),
      cooldownMs: fc.nat({ max: 60_000 }),
    })
    .map(({ extra, sinceActive, ...r }): KedaInput => ({
      ...r,
      maxReplicas: Math.max(1, r.minReplicas + extra),
      now: 1_000_000,
      lastActiveAt: sinceActive === undefined ? undefined : 1_000_000 - sinceActive,
    }));

  it("always decides within [minReplicas, maxReplicas] (property)", () => {
    fc.assert(
      fc.property(inputs, (input) => {
        const { desired } = kedaDesiredReplicas(input);
        expect(Number.isInteger(desired)).toBe(true);
        expect(desired).toBeGreaterThanOrEqual(input.minReplicas);
        expect(desired).toBeLessThanOrEqual(input.maxReplicas);
      }),
      { numRuns: 2000 },
    );
  });

  it("decides 0 only when inactive and never active or past the cooldown (property)", () => {
    fc.assert(
      fc.property(inputs, (input) => {
        const d = kedaDesiredReplicas(input);
        if (d.desired !== 0) return;
        expect(d.active).toBe(false);
        expect(input.lastActiveAt === undefined || input.now - input.lastActiveAt >= input.cooldownMs).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });

  it("is monotone in lag while active, and carries lastActiveAt forward (property)", () => {
    fc.assert(
      fc.property(inputs, fc.nat({ max: 10_000 }), (input, more) => {
        const low = kedaDesiredReplicas(input);
        const high = kedaDesiredReplicas({ ...input, lag: input.lag + more });
        if (low.active) {
          expect(high.active).toBe(true);
          expect(high.desired).toBeGreaterThanOrEqual(low.desired);
          expect(low.lastActiveAt).toBe(input.now);
        } else {
          expect(low.lastActiveAt).toBe(input.lastActiveAt);
        }
      }),
      { numRuns: 2000 },
    );
  });
});
