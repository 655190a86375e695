import { describe, expect, it } from "vitest";
import { audit, type AuditInput, type StoreJob } from "../src/audit.js";

const job = (n: number, over: Partial<StoreJob> = {}): StoreJob => ({
  jobId: `j${n}`,
  idempotencyKey: `k${n}`,
  state: "completed",
  reasonCode: null,
  duplicateResults: 0,
  ...over,
});

/** Three jobs, each submitted, completed, run once, its effect applied once: a clean run. */
function clean(): AuditInput {
  const ids = ["j0", "j1", "j2"];
  return {
    keys: ["k0", "k1", "k2"],
    responses: ids.map((jobId, i) => ({ key: `k${i}`, jobId, created: true })),
    jobs: [job(0), job(1), job(2)],
    executions: ids,
    effects: ids,
    applied: ids,
    naive: ids,
    completedResults: ids,
    recordedCompletions: ids,
  };
}

describe("audit", () => {
  it("passes a clean run", () => {
    const v = audit(clean());
    expect(v).toMatchObject({
      jobs: 3,
      lost: 0,
      completed: 3,
      duplicateCompleted: 0,
      sideEffectsAppliedTwice: 0,
      reExecutions: 0,
      ok: true,
      problems: [],
    });
  });

  it("counts re-executions without failing: at-least-once is allowed, the idempotent effect still applied once", () => {
    const input = clean();
    input.executions = ["j0", "j0", "j0", "j1", "j2"];
    input.naive = ["j0", "j0", "j1", "j2"];
    const v = audit(input);
    expect(v).toMatchObject({ reExecutions: 2, jobsReExecuted: 1, executions: 5, naiveDuplicateEffects: 1, ok: true });
  });

  it("a retried submit answered by its idempotency key is one job, not a duplicate", () => {
    const input = clean();
    input.responses = [...input.responses, { key: "k1", jobId: "j1", created: false }];
    expect(audit(input)).toMatchObject({ duplicateSubmits: 0, ok: true });
  });

  it("finds lost jobs: accepted and missing from the store, or never decided", () => {
    const input = clean();
    input.jobs = [job(0), job(1, { state: "queued" })];
    const v = audit(input);
    expect(v.lost).toBe(2);
    expect(v.lostJobs).toEqual([
      { key: "k1", jobId: "j1", state: "queued", why: "accepted, still queued" },
      { key: "k2", jobId: "j2", why: "accepted, but not in the store" },
    ]);
    expect(v.ok).toBe(false);
    expect(v.problems).toContain("2 jobs lost (accepted, never decided)");
  });

  it("reports keys never accepted separately from lost jobs", () => {
    const input = clean();
    input.responses = input.responses.slice(0, 2);
    input.jobs = input.jobs.slice(0, 2);
    expect(audit(input)).toMatchObject({
      lost: 0,
      notAccepted: 1,
      ok: false,
      problems: ["1 keys never accepted by a submit"],
    });
  });

  it("finds a key that became two jobs, and jobs nobody asked for", () => {
    const input = clean();
    input.responses = [...input.responses, { key: "k2", jobId: "j9", created: true }];
    input.jobs = [...input.jobs, job(9, { idempotencyKey: "k2" }), job(10, { idempotencyKey: null })];
    input.effects = [...input.effects, "j9", "j10"];
    const v = audit(input);
    // k2: two store rows and two different job ids in its responses.
    expect(v.duplicateSubmits).toBe(2);
    expect(v.unexpectedJobs).toBe(1);
    expect(v.ok).toBe(false);
  });

  it("finds duplicate completed Results on the bus and completions recorded twice", () => {
    const input = clean();
    input.completedResults = ["j0", "j0", "j1", "j2", "j2", "j2"];
    input.recordedCompletions = ["j0", "j1", "j1", "j2"];
    expect(audit(input)).toMatchObject({
      duplicateCompletedOnBus: 3,
      duplicateCompletedRecorded: 1,
      duplicateCompleted: 4,
      ok: false,
    });
  });

  it("finds a side effect applied twice, and a completed job whose effect is missing", () => {
    const input = clean();
    input.applied = ["j0", "j1", "j1"];
    input.effects = ["j0", "j1"];
    const v = audit(input);
    expect(v).toMatchObject({ sideEffectsAppliedTwice: 1, sideEffectsMissing: 1, ok: false });
    expect(v.problems).toEqual([
      "1 idempotent side effects applied twice",
      "1 completed jobs without their side effect",
    ]);
  });

  it("counts failed jobs by reason and fails the run (no job of a fault run is poison)", () => {
    const input = clean();
    input.jobs = [
      job(0),
      job(1, { state: "failed", reasonCode: "dead_lettered" }),
      job(2, { state: "failed", reasonCode: "timeout", duplicateResults: 2 }),
    ];
    expect(audit(input)).toMatchObject({
      completed: 1,
      failed: 2,
      failedByReason: { dead_lettered: 1, timeout: 1 },
      duplicateResultsIgnored: 2,
      lost: 0,
      ok: false,
    });
  });
});
