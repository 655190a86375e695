import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ActivityCounter } from "../src/activity/activity-counter.js";
import { listInTimeRange } from "../src/jobs/list-in-time-range.js";
import type { JobEvent, JobFilter, JobRecord, Page } from "../src/types.js";
import { embedded, spec, type Embedded } from "./harness.js";
import { storeBackends } from "./store-backends.js";

const MINUTE = 60_000;
const T0 = Date.parse("2026-11-23T10:00:00Z");
const event = (component: string, state: JobEvent["state"]): JobEvent => ({
  jobId: "j",
  component,
  state,
  reasonCode: null,
  at: "",
});

describe("ActivityCounter", () => {
  it("counts decided jobs per component per minute and serves the last minutes, oldest first, zeros included", () => {
    const counter = new ActivityCounter(MINUTE, 3);
    counter.record(event("a", "completed"), T0 + 1_000);
    counter.record(event("a", "failed"), T0 + 2_000);
    counter.record(event("a", "pending"), T0 + 2_000);
    counter.record(event("a", "queued"), T0 + 2_000);
    counter.record(event("b", "completed"), T0 + 3_000);
    counter.record(event("a", "completed"), T0 + 2 * MINUTE + 5);
    expect(counter.series("a", T0 + 2 * MINUTE + 10)).toEqual({
      bucketMs: MINUTE,
      buckets: [
        { start: new Date(T0).toISOString(), completed: 1, failed: 1 },
        { start: new Date(T0 + MINUTE).toISOString(), completed: 0, failed: 0 },
        { start: new Date(T0 + 2 * MINUTE).toISOString(), completed: 1, failed: 0 },
      ],
    });
    expect(counter.series("b", T0 + 10).buckets.at(-1)).toMatchObject({ completed: 1 });
    expect(counter.series("nobody", T0).buckets).toHaveLength(3);
  });

  it("forgets minutes older than it keeps", () => {
    const counter = new ActivityCounter(MINUTE, 2);
    counter.record(event("a", "completed"), T0);
    counter.record(event("a", "completed"), T0 + 5 * MINUTE);
    expect(counter.series("a", T0 + 5 * MINUTE).buckets.map((b) => b.completed)).toEqual([0, 1]);
    expect(counter.series("a", T0 + 20 * MINUTE).buckets.map((b) => b.completed)).toEqual([0, 0]);
  });
});

describe("listInTimeRange", () => {
  // 20 jobs, newest first, one a minute apart: job 19 at T0+19min … job 0 at T0.
  const jobs = Array.from(
    { length: 20 },
    (_, i) => ({ jobId: `j${i}`, createdAt: new Date(T0 + i * MINUTE).toISOString() }) as JobRecord,
  ).reverse();
  let calls = 0;
  const store = async (filter: JobFilter): Promise<Page<JobRecord>> => {
    calls += 1;
    const start = filter.cursor === undefined ? 0 : Number(filter.cursor);
    const limit = filter.limit ?? 50;
    const items = jobs.slice(start, start + limit);
    return { items, nextCursor: start + limit < jobs.length ? String(start + limit) : null };
  };
  const ids = (page: Page<JobRecord>) => page.items.map((j) => j.jobId);

  it("passes a filter without a range straight through", async () => {
    expect(ids(await listInTimeRange({ limit: 3 }, store))).toEqual(["j19", "j18", "j17"]);
  });

  it("skips newer jobs, stops at the first older one, and pages with the store's cursors", async () => {
    const range = {
      createdAfter: new Date(T0 + 5 * MINUTE).toISOString(),
      createdBefore: new Date(T0 + 12 * MINUTE).toISOString(),
    };
    const first = await listInTimeRange({ ...range, limit: 4 }, store);
    expect(ids(first)).toEqual(["j11", "j10", "j9", "j8"]);
    expect(first.nextCursor).not.toBeNull();
    const second = await listInTimeRange({ ...range, limit: 4, cursor: first.nextCursor as string }, store);
    expect(ids(second)).toEqual(["j7", "j6", "j5"]);
    expect(second.nextCursor).toBeNull();
  });

  it("refuses a date that does not parse, naming the field", async () => {
    await expect(listInTimeRange({ createdAfter: "yesterday" }, store)).rejects.toMatchObject({
      code: "invalid_request",
      issues: [{ path: "createdAfter" }],
    });
    expect(calls).toBeGreaterThan(0);
  });
});

describe.each(storeBackends())("through the coordinator on $name", (backend) => {
  let env: Embedded;
  beforeAll(async () => {
    env = await embedded((await backend.open()).database, [
      { name: "echo", spec: { ...spec(), maturity: "beta" } },
      { name: "plain", spec: spec() },
    ]);
    await env.run({
      name: "echo",
      async handle(ctx) {
        return await ctx.input.json();
      },
    });
  });
  afterAll(async () => {
    await env.close();
  });

  it("reports maturity and this minute's activity per component, and filters jobs by creation time", async () => {
    const before = new Date(Date.now() - 1).toISOString();
    const { jobId } = await env.coordinator.submit("echo", { json: { ok: true } });
    await env.coordinator.waitForJob(jobId, { timeoutMs: 5_000 });
    const echo = await env.coordinator.component("echo");
    expect(echo?.maturity).toBe("beta");
    expect((await env.coordinator.component("plain"))?.maturity).toBe("experimental");
    expect(echo?.activity.buckets).toHaveLength(15);
    expect(echo?.activity.buckets.at(-1)).toMatchObject({ completed: 1, failed: 0 });
    expect((await env.coordinator.listJobs({ createdAfter: before })).items.map((j) => j.jobId)).toEqual([jobId]);
    expect((await env.coordinator.listJobs({ createdBefore: before })).items).toEqual([]);
  });

  it("serves a job's inline output as bytes", async () => {
    const { jobId } = await env.coordinator.submit("echo", { json: { answer: 42 } });
    await env.coordinator.waitForJob(jobId, { timeoutMs: 5_000 });
    const output = await env.coordinator.jobOutput(jobId);
    expect(output?.contentType).toBe("application/json");
    expect(JSON.parse(new TextDecoder().decode(output?.bytes))).toEqual({ answer: 42 });
    expect(await env.coordinator.jobOutput("nope")).toBeUndefined();
  });
});
