import type { ValidationIssue } from "@tessera/contract";
import { ComponentDefaults } from "@tessera/contract";
import type { InjectOptions } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { JobRecord, SubmitOutcome } from "../../src/types.js";
import { makeCoordinator, type CoordinatorUnderTest } from "./coordinator-under-test.js";

/*
 * What was tried against the submit endpoint and its neighbours (issue 16): every answer to client input is
 * a 4xx naming the field, never a 5xx, and never echoes more than a bounded slice of what was sent.
 */

let env: CoordinatorUnderTest;
beforeAll(async () => {
  env = await makeCoordinator();
});
afterAll(() => env.close());

interface Answer {
  status: number;
  length: number;
  body: { error?: { code: string; message: string; issues?: ValidationIssue[] } } & Record<string, unknown>;
}

async function send(options: InjectOptions): Promise<Answer> {
  const res = await env.admin.app.inject(options);
  return { status: res.statusCode, length: res.body.length, body: res.json() as Answer["body"] };
}

const submit = (body: Record<string, unknown>) => send({ method: "POST", url: "/api/v1/jobs", payload: body });
const valid = { component: "idle", input: { json: 1 } };

describe("per-job limits only lower the component's", () => {
  // `idle` has the default max_bytes and a 10 s wall clock (harness spec()).
  it("refuses maxBytes and wallClockMs above the component's, naming each", async () => {
    const bytes = await submit({ ...valid, limits: { maxBytes: 1e300 } });
    expect(bytes.status).toBe(400);
    expect(bytes.body.error?.issues).toEqual([
      {
        path: "limits.maxBytes",
        expected: `at most ${ComponentDefaults.maxBytes} bytes (the component's maxBytes); a job may only lower its component's limits`,
        received: "1e+300",
      },
    ]);
    const wall = await submit({ ...valid, limits: { wallClockMs: 1e20 } });
    expect(wall.status).toBe(400);
    expect(wall.body.error?.issues?.[0]).toMatchObject({
      path: "limits.wallClockMs",
      expected: expect.stringContaining("at most 10000 ms (the component's timeouts.wallClock)") as unknown,
    });
    expect((await submit({ ...valid, limits: { wallClockMs: 10_001 } })).status).toBe(400);
  });

  it("takes lower (and equal) limits into the envelope", async () => {
    const res = await submit({ ...valid, limits: { maxBytes: 1_000, wallClockMs: 10_000 } });
    expect(res.status).toBe(201);
    const job = (await env.coordinator.getJob((res.body as unknown as SubmitOutcome).jobId)) as JobRecord;
    expect(job.envelope.limits).toEqual({ max_bytes: 1_000, wall_clock: 10_000 });
  });
});

describe("uploads up to the 16 MiB body limit", () => {
  it("takes base64 of 16 MiB less the JSON around it (regression: a 500 stack overflow past 4.2M characters)", async () => {
    const bytes = Buffer.alloc(12 * 1024 * 1024 - 4 * 1024, 0xab);
    const payload = JSON.stringify({ component: "idle", input: { base64: bytes.toString("base64") } });
    expect(payload.length).toBeGreaterThan(16 * 1024 * 1024 - 8 * 1024);
    const res = await send({
      method: "POST",
      url: "/api/v1/jobs",
      payload,
      headers: { "content-type": "application/json" },
    });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    const job = (await env.coordinator.getJob((res.body as unknown as SubmitOutcome).jobId)) as JobRecord;
    expect(job.envelope.input.content_ref?.byte_size).toBe(bytes.byteLength);
  });

  it("still refuses what is not standard padded base64, naming the field", async () => {
    for (const base64 of ["QUJD=", "QUJ", "QU=D", "QUJD\n", "====", "QUJD-_=="]) {
      const res = await submit({ component: "idle", input: { base64 } });
      expect(res.status, base64).toBe(400);
      expect(res.body.error?.issues?.[0]?.path, base64).toBe("body.input.base64");
    }
    expect((await submit({ component: "idle", input: { base64: "" } })).status).toBe(201);
    expect((await submit({ component: "idle", input: { base64: "QUI=" } })).status).toBe(201);
  });
});

describe("malformed text is a 400 naming the field, never a 5xx", () => {
  const nul = "a\u0000b";
  const lone = "a\ud800b";
  const deep = `${"[".repeat(100_000)}${"]".repeat(100_000)}`;
  const cases: [string, InjectOptions, string][] = [
    [
      "NUL in contentType",
      { method: "POST", url: "/api/v1/jobs", payload: { ...valid, contentType: nul } },
      "body.contentType",
    ],
    ["NUL in ?key=", { method: "GET", url: "/api/v1/jobs?key=a%00b" }, "query.key"],
    ["NUL in a job id", { method: "GET", url: "/api/v1/jobs/a%00b" }, "params.jobId"],
    ["NUL in a job id to cancel", { method: "POST", url: "/api/v1/jobs/a%00b/cancel" }, "params.jobId"],
    ["NUL in a job id to redrive", { method: "POST", url: "/api/v1/dlq/a%00b/redrive" }, "params.jobId"],
    ["NUL in a job id's result", { method: "GET", url: "/api/v1/jobs/a%00b/result" }, "params.jobId"],
    [
      "a job id longer than the contract's 128",
      { method: "GET", url: `/api/v1/jobs/${"j".repeat(129)}` },
      "params.jobId",
    ],
    [
      "a lone surrogate in text input",
      { method: "POST", url: "/api/v1/jobs", payload: { component: "idle", input: { text: lone } } },
      "body.input.text",
    ],
    [
      "a lone surrogate in a JSON input's key",
      { method: "POST", url: "/api/v1/jobs", payload: { component: "idle", input: { json: { [lone]: 1 } } } },
      `body.input.json.${lone}`,
    ],
    [
      "a lone surrogate in an idempotency key",
      { method: "POST", url: "/api/v1/jobs", payload: { ...valid, idempotencyKey: lone } },
      "body.idempotencyKey",
    ],
    [
      "a lone surrogate in a settings value",
      { method: "PUT", url: "/api/v1/settings/limits.echo", payload: { value: { key: lone, concurrency: 1 } } },
      "body.value.key",
    ],
    [
      "NUL in a settings value",
      { method: "PUT", url: "/api/v1/settings/limits.echo", payload: { value: { key: nul, concurrency: 1 } } },
      "body.value.key",
    ],
    [
      "JSON nested 100,000 deep in a settings value",
      {
        method: "PUT",
        url: "/api/v1/settings/limits.echo",
        payload: `{"value":${deep}}`,
        headers: { "content-type": "application/json" },
      },
      "body.value",
    ],
    [
      "JSON nested 100,000 deep in the input",
      {
        method: "POST",
        url: "/api/v1/jobs",
        payload: `{"component":"idle","input":{"json":${deep}}}`,
        headers: { "content-type": "application/json" },
      },
      "body.input.json",
    ],
    [
      "a content type over the contract's 255 characters",
      { method: "POST", url: "/api/v1/jobs", payload: { ...valid, contentType: "t".repeat(256) } },
      "body.contentType",
    ],
  ];

  it.each(cases)("%s", async (_, options, path) => {
    const res = await send(options);
    expect(res.status, JSON.stringify(res.body).slice(0, 500)).toBe(400);
    expect(res.body.error?.code).toBe("invalid_request");
    expect(res.body.error?.issues?.[0]?.path.startsWith(path), res.body.error?.issues?.[0]?.path).toBe(true);
  });

  it("a path that is not valid percent-encoding gets the API's error body", async () => {
    const res = await send({ method: "GET", url: "/api/v1/jobs/a%ED%A0%80b" });
    expect(res).toMatchObject({ status: 400, body: { error: { code: "invalid_request" } } });
  });

  it("NUL stays allowed in input that travels by reference (it is stored as bytes)", async () => {
    expect((await submit({ component: "idle", input: { text: `${nul}${"x".repeat(70_000)}` } })).status).toBe(201);
    // Inline, the store would keep it as text: refused by the coordinator, naming the input.
    expect((await submit({ component: "idle", input: { text: nul } })).body.error?.issues?.[0]?.path).toBe("input");
  });
});

describe("error bodies echo at most a bounded slice of the input", () => {
  const MAX_BODY = 4 * 1024;
  const huge = "y".repeat(100_000);
  const cases: [string, InjectOptions, number][] = [
    [
      "an unknown component",
      { method: "POST", url: "/api/v1/jobs", payload: { component: huge, input: { json: 1 } } },
      404,
    ],
    [
      "an idempotency key over 255 characters",
      { method: "POST", url: "/api/v1/jobs", payload: { ...valid, idempotencyKey: huge } },
      400,
    ],
    [
      "an unknown field with a long name",
      { method: "POST", url: "/api/v1/jobs", payload: { ...valid, [huge]: 1 } },
      400,
    ],
    ["an unknown route", { method: "GET", url: `/${huge}` }, 404],
    ["an unknown component's status", { method: "GET", url: `/api/v1/components/${"c".repeat(10_000)}` }, 404],
    [
      "an unknown setting",
      { method: "PUT", url: `/api/v1/settings/${"s".repeat(10_000)}`, payload: { value: 1 } },
      404,
    ],
    ["a job id too long for the router", { method: "GET", url: `/api/v1/jobs/${"j".repeat(60_000)}` }, 400],
    [
      "a bad value for a setting",
      { method: "PUT", url: "/api/v1/settings/relay.batchSize", payload: { value: huge } },
      400,
    ],
  ];

  it.each(cases)("%s", async (_, options, status) => {
    const res = await send(options);
    expect(res.status).toBe(status);
    expect(res.body.error?.message).toEqual(expect.any(String));
    expect(res.length).toBeLessThan(MAX_BODY);
  });
});
