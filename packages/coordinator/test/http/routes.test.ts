import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { JobRecord, Page, SubmitOutcome } from "../../src/types.js";
import { makeCoordinator, type CoordinatorUnderTest } from "./coordinator-under-test.js";

let env: CoordinatorUnderTest;
beforeAll(async () => {
  env = await makeCoordinator();
});
afterAll(() => env.close());

async function call(method: "GET" | "POST" | "PUT", url: string, payload?: unknown) {
  const res = await env.admin.app.inject({
    method,
    url,
    ...(payload === undefined ? {} : { payload: payload as object }),
  });
  return {
    status: res.statusCode,
    body: res.json() as Record<string, unknown> & { error?: { code: string; message: string } },
  };
}

async function submit(component: string, input: unknown, extra: Record<string, unknown> = {}) {
  const res = await call("POST", "/api/v1/jobs", { component, input, ...extra });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body as unknown as SubmitOutcome;
}

describe("health", () => {
  it("GET /healthz answers live, with the build that tessera_build_info names", async () => {
    const health = await call("GET", "/healthz");
    expect(health).toEqual({
      status: 200,
      body: { live: true, version: expect.any(String) as string, commit: expect.any(String) as string },
    });
    const metrics = (await env.admin.app.inject({ method: "GET", url: "/metrics" })).body;
    expect(metrics).toContain(
      `tessera_build_info{version="${health.body["version"]}",commit="${health.body["commit"]}"} 1`,
    );
  });

  it("GET /readyz answers the coordinator's health", async () => {
    expect(await call("GET", "/readyz")).toEqual({
      status: 200,
      body: { live: true, ready: true, checks: { store: true, bus: true, consumers: true } },
    });
  });
});

describe("components", () => {
  it("GET /api/v1/components lists every registered component", async () => {
    const { status, body } = await call("GET", "/api/v1/components");
    expect(status).toBe(200);
    expect((body["items"] as { name: string }[]).map((c) => c.name).sort()).toEqual(["echo", "idle", "poison"]);
  });

  it("GET /api/v1/components/{name} answers one, 404 for an unknown one", async () => {
    const { status, body } = await call("GET", "/api/v1/components/echo");
    expect(status).toBe(200);
    expect(body).toMatchObject({ name: "echo", jobs: { pending: expect.any(Number) }, limits: null });
    expect(await call("GET", "/api/v1/components/nope")).toMatchObject({
      status: 404,
      body: { error: { code: "not_found", message: expect.stringContaining('"nope"') } },
    });
  });
});

describe("jobs", () => {
  it("submits JSON, runs it, and answers the job record", async () => {
    const { jobId, created } = await submit(
      "echo",
      { json: { n: 1 } },
      { metadata: { tenant: "acme" }, limits: { wallClockMs: 5_000 } },
    );
    expect(created).toBe(true);
    await env.coordinator.waitForJob(jobId, { timeoutMs: 5_000 });
    const { status, body } = await call("GET", `/api/v1/jobs/${jobId}`);
    expect(status).toBe(200);
    expect(body).toMatchObject({
      jobId,
      component: "echo",
      state: "completed",
      output: { data: { echoed: { n: 1 } } },
    });
    expect((body as unknown as JobRecord).envelope).toMatchObject({
      metadata: { tenant: "acme" },
      limits: { wall_clock: 5_000 },
    });
  });

  it("submits text inline and base64 input by reference", async () => {
    const text = await submit("idle", { text: "hello" });
    const bytes = await submit(
      "idle",
      { base64: Buffer.from([1, 2, 3]).toString("base64") },
      { contentType: "application/octet-stream" },
    );
    const job = (await call("GET", `/api/v1/jobs/${bytes.jobId}`)).body as unknown as JobRecord;
    expect(job.envelope).toMatchObject({
      content_type: "application/octet-stream",
      input: { content_ref: { byte_size: 3 } },
    });
    expect(((await call("GET", `/api/v1/jobs/${text.jobId}`)).body as unknown as JobRecord).envelope).toMatchObject({
      content_type: "text/plain",
      input: { inline: "hello" },
    });
  });

  it("answers 201 for a new idempotency key and 200 with the same job when it matches", async () => {
    const first = await call("POST", "/api/v1/jobs", {
      component: "idle",
      input: { json: 1 },
      idempotencyKey: "order-7",
    });
    const second = await call("POST", "/api/v1/jobs", {
      component: "idle",
      input: { json: 2 },
      idempotencyKey: "order-7",
    });
    expect(first).toMatchObject({ status: 201, body: { created: true } });
    expect(second).toMatchObject({ status: 200, body: { jobId: first.body["jobId"], created: false } });
  });

  it("carries a traceparent header into the envelope", async () => {
    const traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    const res = await env.admin.app.inject({
      method: "POST",
      url: "/api/v1/jobs",
      headers: { traceparent },
      payload: { component: "idle", input: { json: 1 } },
    });
    const job = (await call("GET", `/api/v1/jobs/${(res.json() as SubmitOutcome).jobId}`)).body as unknown as JobRecord;
    expect(job.envelope.traceparent).toBe(traceparent);
  });

  it("lists jobs filtered by component and state, a page at a time", async () => {
    for (const n of [1, 2, 3]) await submit("idle", { json: n });
    const first = await call("GET", "/api/v1/jobs?component=idle&limit=2");
    expect(first.status).toBe(200);
    const page = first.body as unknown as Page<JobRecord>;
    expect(page.items).toHaveLength(2);
    expect(page.items.every((j) => j.component === "idle")).toBe(true);
    expect(page.nextCursor).not.toBeNull();
    const next = (
      await call("GET", `/api/v1/jobs?component=idle&limit=2&cursor=${encodeURIComponent(page.nextCursor ?? "")}`)
    ).body as unknown as Page<JobRecord>;
    expect(next.items.length).toBeGreaterThan(0);
    expect(next.items.map((j) => j.jobId)).not.toContain(page.items[0]?.jobId);
    const completed = (await call("GET", "/api/v1/jobs?state=completed")).body as unknown as Page<JobRecord>;
    expect(completed.items.every((j) => j.state === "completed")).toBe(true);
  });

  it("cancels a waiting job, then answers 409 already_finished; 404 for an unknown job", async () => {
    const { jobId } = await submit("idle", { json: 1 });
    expect(await call("POST", `/api/v1/jobs/${jobId}/cancel`)).toMatchObject({
      status: 200,
      body: { job: { jobId, state: "cancelled" } },
    });
    expect(await call("POST", `/api/v1/jobs/${jobId}/cancel`)).toMatchObject({
      status: 409,
      body: {
        error: { code: "conflict", reason: "already_finished", message: expect.stringContaining("already cancelled") },
      },
    });
    expect(await call("POST", "/api/v1/jobs/no-such-job/cancel")).toMatchObject({
      status: 404,
      body: { error: { code: "not_found" } },
    });
    expect(await call("GET", "/api/v1/jobs/no-such-job")).toMatchObject({
      status: 404,
      body: { error: { code: "not_found", message: expect.stringContaining("no-such-job") } },
    });
  });

  it("answers 404 naming an unknown component on submit", async () => {
    expect(await call("POST", "/api/v1/jobs", { component: "nope", input: { json: 1 } })).toMatchObject({
      status: 404,
      body: { error: { code: "not_found", message: expect.stringContaining('"nope"') } },
    });
  });

  it("accepts a body-less POST sent with content-type application/json", async () => {
    const { jobId } = await submit("idle", { json: 1 });
    const res = await env.admin.app.inject({
      method: "POST",
      url: `/api/v1/jobs/${jobId}/cancel`,
      headers: { "content-type": "application/json" },
    });
    expect(res.statusCode).toBe(200);
  });
});

describe("dead letters", () => {
  it("lists dead letters, redrives one and redrives the rest of a component's", async () => {
    const one = await submit("poison", { json: 1 });
    const two = await submit("poison", { json: 2 });
    await env.coordinator.waitForJob(one.jobId, { timeoutMs: 5_000 });
    await env.coordinator.waitForJob(two.jobId, { timeoutMs: 5_000 });

    const { status, body } = await call("GET", "/api/v1/dlq?component=poison");
    expect(status).toBe(200);
    expect((body["items"] as { jobId: string }[]).map((d) => d.jobId).sort()).toEqual([one.jobId, two.jobId].sort());

    expect(await call("POST", `/api/v1/dlq/${one.jobId}/redrive`)).toMatchObject({
      status: 200,
      body: { job: { jobId: one.jobId, state: "pending", redrives: 1 } },
    });
    expect(await call("POST", "/api/v1/dlq/no-such-job/redrive")).toMatchObject({
      status: 404,
      body: { error: { code: "not_found" } },
    });

    expect(await call("POST", "/api/v1/dlq/redrive", { component: "poison" })).toMatchObject({
      status: 200,
      body: { jobIds: expect.arrayContaining([two.jobId]) },
    });
    expect(await call("POST", "/api/v1/dlq/redrive", { component: "nope" })).toMatchObject({
      status: 404,
      body: { error: { code: "not_found" } },
    });
  });

  it("answers 409 not_failed when redriving a job that is not dead-lettered", async () => {
    const { jobId } = await submit("idle", { json: 1 });
    expect(await call("POST", `/api/v1/dlq/${jobId}/redrive`)).toMatchObject({
      status: 409,
      body: { error: { code: "conflict", reason: "not_failed", message: expect.stringContaining(jobId) } },
    });
  });
});

describe("settings and counters", () => {
  it("lists settings and writes an operational one", async () => {
    const { status, body } = await call("GET", "/api/v1/settings");
    expect(status).toBe(200);
    expect(body["items"]).toEqual(
      expect.arrayContaining([expect.objectContaining({ name: "relay.batchSize", category: "operational" })]),
    );
    expect(await call("PUT", "/api/v1/settings/relay.batchSize", { value: 64 })).toMatchObject({
      status: 200,
      body: { name: "relay.batchSize", value: 64, source: "db" },
    });
  });

  it("refuses a bootstrap setting, a bad value and an unknown setting", async () => {
    expect(await call("PUT", "/api/v1/settings/admin.port", { value: 1 })).toMatchObject({
      status: 400,
      body: { error: { code: "invalid_request", issues: [{ path: "name" }] } },
    });
    expect(await call("PUT", "/api/v1/settings/relay.batchSize", { value: "lots" })).toMatchObject({
      status: 400,
      body: { error: { code: "invalid_request", issues: [{ path: "value" }] } },
    });
    expect(await call("PUT", "/api/v1/settings/no.such", { value: 1 })).toMatchObject({
      status: 404,
      body: { error: { code: "not_found" } },
    });
  });

  it("answers the counters", async () => {
    const { status, body } = await call("GET", "/api/v1/counters");
    expect(status).toBe(200);
    expect(body).toMatchObject({
      submitted: expect.any(Number),
      published: expect.any(Number),
      deadLettered: expect.any(Number),
    });
  });
});

describe("unknown routes", () => {
  it("answer 404 in the error format", async () => {
    expect(await call("GET", "/api/v1/nope")).toMatchObject({
      status: 404,
      body: { error: { code: "not_found", message: expect.stringContaining("GET /api/v1/nope") } },
    });
  });

  it("answer 405 for a method a known path does not take (fuzz-findings.test.ts)", async () => {
    expect(await call("PUT", "/api/v1/jobs")).toMatchObject({
      status: 405,
      body: { error: { code: "invalid_request" } },
    });
  });
});
