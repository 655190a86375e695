import { describe, expect, it } from "vitest";
import type { StoreJob } from "../src/audit.js";
import { auditLimits, RATE_SLACK_MS } from "../src/limits-audit.js";

function job(jobId: string, limitKey: string, updatedAt: number, state: StoreJob["state"] = "completed"): StoreJob {
  return { jobId, idempotencyKey: jobId, state, reasonCode: null, duplicateResults: 0, limitKey, updatedAt };
}

describe("auditLimits", () => {
  it("measures the peak of [first run, decision] per key, and ignores runs after the decision", () => {
    const jobs = [job("a", "k", 20), job("b", "k", 40), job("c", "other", 30)];
    const executions = [
      { jobId: "a", at: 10 },
      { jobId: "b", at: 20 }, // starts as a is decided: no overlap
      { jobId: "c", at: 15 },
      { jobId: "a", at: 35 }, // a rerun after its decision is no dispatch
    ];
    const verdict = auditLimits({ jobs, executions, limits: { key: "tenant", concurrency: 1 } });
    expect(verdict).toMatchObject({ keys: 2, peakConcurrency: 1, ok: true, problems: [] });
    const overlapping = auditLimits({
      jobs: [job("a", "k", 30), job("b", "k", 40)],
      executions: [
        { jobId: "a", at: 10 },
        { jobId: "b", at: 20 },
      ],
      limits: { key: "tenant", concurrency: 1 },
    });
    expect(overlapping.ok).toBe(false);
    expect(overlapping.problems).toEqual(["key k: 2 jobs at once, over its concurrency 1"]);
  });

  it("allows a burst plus the rate over a span (with slack), and flags twice that", () => {
    const limits = { key: "tenant", rate: { limit: 5, intervalMs: 1_000 } };
    const span = 10_000;
    // The bound over 10 s: 5 + 5 × (10 + slack) + 1.
    const allowed = Math.floor(5 + (5 * (span + RATE_SLACK_MS)) / 1_000 + 1);
    const runs = (n: number) =>
      Array.from({ length: n }, (_, i) => ({ jobId: `j${i}`, at: Math.round((i * span) / Math.max(1, n - 1)) }));
    const within = runs(allowed);
    expect(auditLimits({ jobs: within.map((r) => job(r.jobId, "k", r.at + 1)), executions: within, limits }).ok).toBe(
      true,
    );
    const twice = runs(2 * allowed);
    const verdict = auditLimits({ jobs: twice.map((r) => job(r.jobId, "k", r.at + 1)), executions: twice, limits });
    expect(verdict.ok).toBe(false);
    expect(verdict.worstRateRatio).toBeGreaterThan(1.5);
  });

  it("reports keys left with open jobs", () => {
    const verdict = auditLimits({
      jobs: [job("a", "k", 10, "queued")],
      executions: [],
      limits: { key: "tenant", concurrency: 1 },
    });
    expect(verdict).toMatchObject({ keysWithOpenJobs: 1, ok: false });
  });
});
