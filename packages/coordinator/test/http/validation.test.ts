import type { ValidationIssue } from "@tessera/contract";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeCoordinator, type CoordinatorUnderTest } from "./coordinator-under-test.js";

let env: CoordinatorUnderTest;
beforeAll(async () => {
  env = await makeCoordinator();
});
afterAll(() => env.close());

interface ErrorResponse {
  status: number;
  error: { code: string; message: string; issues?: ValidationIssue[] };
}

async function request(
  method: "GET" | "POST",
  url: string,
  payload?: string | object,
  headers: Record<string, string> = {},
): Promise<ErrorResponse> {
  const res = await env.admin.app.inject({ method, url, headers, ...(payload === undefined ? {} : { payload }) });
  return { status: res.statusCode, error: (res.json() as { error: ErrorResponse["error"] }).error };
}

const submit = (body: object) => request("POST", "/api/v1/jobs", body);
const valid = { component: "idle", input: { json: 1 } };

describe("a bad submit body is a 400 naming the field", () => {
  it("missing component", async () => {
    const res = await submit({ input: { json: 1 } });
    expect(res.status).toBe(400);
    expect(res.error).toMatchObject({ code: "invalid_request", message: expect.stringContaining("body.component") });
    expect(res.error.issues).toEqual([
      {
        path: "body.component",
        expected: "required property: a non-empty string",
        received: "nothing (field missing)",
      },
    ]);
  });

  it("an unknown field, alongside the missing one it was a typo for", async () => {
    const res = await submit({ compnent: "idle", input: { json: 1 } });
    expect(res.status).toBe(400);
    expect(res.error.issues).toEqual([
      {
        path: "body.component",
        expected: "required property: a non-empty string",
        received: "nothing (field missing)",
      },
      {
        path: "body.compnent",
        expected: expect.stringContaining(
          'no additional properties (unknown field "compnent"; known fields: component, input,',
        ),
        received: 'string "idle"',
      },
    ]);
  });

  it("a wrong type in limits, without coercing a numeric string", async () => {
    const res = await submit({ ...valid, limits: { maxBytes: "5" } });
    expect(res.status).toBe(400);
    expect(res.error.issues).toEqual([
      { path: "body.limits.maxBytes", expected: "integer ≥ 1", received: 'string "5"' },
    ]);
    expect((await submit({ ...valid, limits: { wallClockMs: 0 } })).error.issues).toEqual([
      { path: "body.limits.wallClockMs", expected: "integer ≥ 1", received: "number 0" },
    ]);
  });

  it("bad base64", async () => {
    const res = await submit({ component: "idle", input: { base64: "not base64!" } });
    expect(res.status).toBe(400);
    expect(res.error.issues).toEqual([
      { path: "body.input.base64", expected: expect.stringContaining("base64"), received: 'string "not base64!"' },
    ]);
  });

  it("no input, or more than one kind", async () => {
    const none = await submit({ component: "idle", input: {} });
    expect(none.status).toBe(400);
    expect(none.error.issues).toEqual([
      {
        path: "body.input",
        expected: "an object with exactly one of json, text, base64, source_locator",
        received: "an object",
      },
    ]);
    expect((await submit({ component: "idle", input: { json: 1, text: "x" } })).error.issues?.[0]?.path).toBe(
      "body.input",
    );
  });

  it("a deadline that is not an RFC 3339 date-time", async () => {
    const res = await submit({ ...valid, deadline: "tomorrow" });
    expect(res.status).toBe(400);
    expect(res.error.issues).toEqual([
      { path: "body.deadline", expected: expect.stringContaining("RFC 3339 date-time"), received: 'string "tomorrow"' },
    ]);
  });

  it("a body that is not an object", async () => {
    const res = await submit([1, 2]);
    expect(res.status).toBe(400);
    expect(res.error.issues).toEqual([{ path: "body", expected: "an object", received: "an array of 2" }]);
  });

  it("a malformed traceparent header", async () => {
    const res = await request("POST", "/api/v1/jobs", valid, { traceparent: "trace-me" });
    expect(res.status).toBe(400);
    expect(res.error.issues).toEqual([
      { path: "headers.traceparent", expected: "a W3C traceparent", received: 'string "trace-me"' },
    ]);
  });

  it("metadata the contract refuses, with the contract's issues", async () => {
    const res = await submit({ ...valid, metadata: { tenant: "v".repeat(513) } });
    expect(res.status).toBe(400);
    expect(res.error.code).toBe("invalid_request");
    expect(res.error.issues?.[0]?.path).toMatch(/^metadata/);
  });
});

describe("malformed and oversized bodies", () => {
  it("malformed JSON is a 400 that says so", async () => {
    const res = await request("POST", "/api/v1/jobs", '{"component": "idle",', { "content-type": "application/json" });
    expect(res).toEqual({
      status: 400,
      error: { code: "invalid_request", message: expect.stringContaining("not valid JSON") },
    });
  });

  it("a body over the limit is a 413", async () => {
    const huge = JSON.stringify({ component: "idle", input: { text: "x".repeat(17 * 1024 * 1024) } });
    const res = await request("POST", "/api/v1/jobs", huge, { "content-type": "application/json" });
    expect(res).toEqual({
      status: 413,
      error: { code: "payload_too_large", message: expect.stringContaining("16 MiB") },
    });
  });
});

describe("bad query strings are a 400 naming the parameter", () => {
  it("a state that is not a job state lists the states", async () => {
    const res = await request("GET", "/api/v1/jobs?state=done");
    expect(res.status).toBe(400);
    expect(res.error.issues).toEqual([
      {
        path: "query.state",
        expected: "one of pending, queued, completed, failed, cancelled",
        received: 'string "done"',
      },
    ]);
  });

  it("a limit out of range or not a number", async () => {
    expect((await request("GET", "/api/v1/jobs?limit=0")).error.issues).toEqual([
      { path: "query.limit", expected: "integer from 1 to 500", received: "number 0" },
    ]);
    expect((await request("GET", "/api/v1/dlq?limit=501")).error.issues).toEqual([
      { path: "query.limit", expected: "integer from 1 to 500", received: "number 501" },
    ]);
    expect((await request("GET", "/api/v1/jobs?limit=many")).error.issues).toEqual([
      { path: "query.limit", expected: "integer from 1 to 500", received: 'string "many"' },
    ]);
  });

  it("an unknown parameter", async () => {
    const res = await request("GET", "/api/v1/jobs?stat=failed");
    expect(res.status).toBe(400);
    expect(res.error.issues?.[0]).toMatchObject({
      path: "query.stat",
      expected: expect.stringContaining('unknown field "stat"'),
    });
  });
});

it("redrive-all without a component is a 400 naming it", async () => {
  const res = await request("POST", "/api/v1/dlq/redrive", {});
  expect(res.status).toBe(400);
  expect(res.error.issues).toEqual([
    { path: "body.component", expected: "required property: a non-empty string", received: "nothing (field missing)" },
  ]);
});
