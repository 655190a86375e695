import { ErrorBodySchema } from "@tessera/client/schemas";
import type { InjectOptions } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { validatorFactory } from "../../src/http/validator-compiler.js";
import type { SubmitOutcome } from "../../src/types.js";
import { makeCoordinator, type CoordinatorUnderTest } from "./coordinator-under-test.js";

/*
 * What schemathesis found (test/fuzz/schemathesis.test.ts, docs/decisions/0024-api-fuzzing.md), each as a
 * fast test: an answer the OpenAPI document did not list for its operation, with the body it did not
 * describe, or a status that said something else than what happened.
 */

const TOKEN = "findings-admin-token-0123456789";
const auth = { authorization: `Bearer ${TOKEN}` };

interface Operation {
  responses: Record<string, { content?: Record<string, unknown>; links?: Record<string, { operationRef: string }> }>;
  security?: unknown[];
}
type Document = { paths: Record<string, Record<string, Operation>> };

// The server's own Ajv (TypeBox's Value.Check knows no `Type.Unsafe`, which the error codes are).
const compile = validatorFactory()({}, undefined) as unknown as (route: object) => (value: unknown) => boolean;
const isErrorBody = compile({ schema: ErrorBodySchema, httpPart: "body", method: "GET", url: "/" });

let env: CoordinatorUnderTest;
let doc: Document;
beforeAll(async () => {
  env = await makeCoordinator({ adminToken: TOKEN });
  doc = (await env.admin.app.inject({ method: "GET", url: "/openapi.json" })).json();
});
afterAll(() => env.close());

/**
 * Sends `request` to the operation documented as `method path` and checks that the document lists the status
 * that came back (itself or its `NXX` range) with the content type it came with, and that an error answers
 * the Error schema; then hands back the answer.
 */
async function documentedAnswer(operation: string, request: InjectOptions) {
  const [method = "", path = ""] = operation.split(" ");
  const res = await env.admin.app.inject(request);
  const responses = doc.paths[path]?.[method.toLowerCase()]?.responses;
  expect(responses, `${operation} is in the document`).toBeDefined();
  const status = String(res.statusCode);
  const documented = responses?.[status] ?? responses?.[`${status[0]}XX`];
  expect(documented, `${operation} documents the ${status} it answered ${res.body.slice(0, 200)}`).toBeDefined();
  const type = String(res.headers["content-type"] ?? "").split(";")[0] ?? "";
  expect(Object.keys(documented?.content ?? {}), `${operation} ${status} documents ${type}`).toContain(type);
  if (res.statusCode >= 400) expect(isErrorBody(res.json()), res.body).toBe(true);
  return res;
}

describe("statuses the operations answered without documenting them", () => {
  it("a malformed path parameter is a documented 400 on every operation that takes a job id", async () => {
    // Schemathesis sent U+0090 U+009A (outside the job id's charset), percent-encoded.
    const bad = "%C2%90%C2%9A7";
    for (const [operation, url] of [
      ["GET /api/v1/jobs/{jobId}", `/api/v1/jobs/${bad}`],
      ["GET /api/v1/jobs/{jobId}/result", `/api/v1/jobs/${bad}/result`],
      ["POST /api/v1/jobs/{jobId}/cancel", `/api/v1/jobs/${bad}/cancel`],
      ["POST /api/v1/dlq/{jobId}/redrive", `/api/v1/dlq/${bad}/redrive`],
    ] as const) {
      const method = operation.split(" ")[0] as "GET" | "POST";
      const res = await documentedAnswer(operation, { method, url, headers: auth });
      expect(res.statusCode, operation).toBe(400);
    }
  });

  it("a NUL in any query string is a documented 400, also on routes that take no query", async () => {
    for (const operation of ["GET /healthz", "GET /api/v1/components", "GET /openapi.json"]) {
      const url = `${operation.split(" ")[1]}?x=%00`;
      expect((await documentedAnswer(operation, { method: "GET", url })).statusCode, operation).toBe(400);
    }
  });

  it("listing jobs or dead letters of an unknown component is a documented 404", async () => {
    for (const operation of ["GET /api/v1/jobs", "GET /api/v1/dlq"]) {
      const url = `${operation.split(" ")[1]}?component=0`;
      expect((await documentedAnswer(operation, { method: "GET", url })).statusCode, operation).toBe(404);
    }
  });

  it("a change without the token (401), from another origin (403), too large (413) or not JSON (415) is documented", async () => {
    const submit = "POST /api/v1/jobs";
    const body = { component: "idle", input: { json: 1 } };
    const cases: [number, InjectOptions][] = [
      [401, { method: "POST", url: "/api/v1/jobs", payload: body }],
      [
        403,
        { method: "POST", url: "/api/v1/jobs", payload: body, headers: { ...auth, origin: "http://evil.example" } },
      ],
      [
        413,
        {
          method: "POST",
          url: "/api/v1/jobs",
          headers: { ...auth, "content-type": "application/json" },
          payload: `{"component":"idle","input":{"text":"${"a".repeat(17 * 1024 * 1024)}"}}`,
        },
      ],
      [
        415,
        {
          method: "POST",
          url: "/api/v1/jobs",
          headers: { ...auth, "content-type": "application/xml" },
          payload: "<x/>",
        },
      ],
    ];
    for (const [status, request] of cases) expect((await documentedAnswer(submit, request)).statusCode).toBe(status);
    const put = await documentedAnswer("PUT /api/v1/settings/{name}", {
      method: "PUT",
      url: "/api/v1/settings/relay.batchSize",
      payload: { value: 10 },
    });
    expect(put.statusCode).toBe(401);
  });

  it("a Host header the server does not answer to is a documented 403 on reads too", async () => {
    const res = await documentedAnswer("GET /api/v1/counters", {
      method: "GET",
      url: "/api/v1/counters",
      headers: { host: "attacker.example" },
    });
    expect(res.statusCode).toBe(403);
  });

  it("every operation documents a success, 400, 403 and 5XX; every change documents the token it needs", () => {
    for (const [path, methods] of Object.entries(doc.paths)) {
      for (const [method, { responses, security }] of Object.entries(methods)) {
        const statuses = Object.keys(responses);
        expect(
          statuses.some((s) => s.startsWith("2")),
          `${method} ${path}`,
        ).toBe(true);
        expect(statuses, `${method} ${path}`).toEqual(expect.arrayContaining(["400", "403", "5XX"]));
        if (method !== "get") expect(statuses, `${method} ${path}`).toEqual(expect.arrayContaining(["401"]));
        expect(security !== undefined, `${method} ${path} declares the admin token`).toBe(method !== "get");
      }
    }
  });
});

it("a job's output answers with a content type its operation documents (it documented octet-stream only)", async () => {
  const submitted = await env.admin.app.inject({
    method: "POST",
    url: "/api/v1/jobs",
    headers: auth,
    payload: { component: "echo", input: { json: { a: 1 } } },
  });
  const { jobId } = submitted.json<SubmitOutcome>();
  await env.coordinator.waitForJob(jobId, { timeoutMs: 10_000 });
  const res = await documentedAnswer("GET /api/v1/jobs/{jobId}/result", {
    method: "GET",
    url: `/api/v1/jobs/${jobId}/result`,
  });
  expect(res.statusCode).toBe(200);
  expect(res.json()).toEqual({ echoed: { a: 1 } });
});

describe("a method a path does not take (it answered 404 as if the path did not exist, or 400 for QUERY)", () => {
  it("is a 405 naming the methods the path takes in Allow", async () => {
    for (const [method, url, allow] of [
      ["TRACE", "/api/v1/jobs", "GET, HEAD, POST"],
      ["DELETE", "/api/v1/jobs/some-job", "GET, HEAD"],
      ["QUERY", "/api/v1/components/echo", "GET, HEAD"],
      ["OPTIONS", "/healthz", "GET, HEAD"],
    ] as const) {
      const res = await env.admin.app.inject({ method, url, headers: auth });
      expect(res.statusCode, `${method} ${url}`).toBe(405);
      expect(res.headers["allow"], `${method} ${url}`).toBe(allow);
      expect(isErrorBody(res.json())).toBe(true);
    }
  });

  it("leaves the 404 to paths nothing serves, and the routes as they were", async () => {
    expect((await env.admin.app.inject({ method: "TRACE", url: "/api/v2/jobs" })).statusCode).toBe(404);
    expect((await env.admin.app.inject({ method: "HEAD", url: "/healthz" })).statusCode).toBe(200);
  });
});

it("links name operations of the document, and none promises the output of a job just submitted", () => {
  const operations = new Set(
    Object.entries(doc.paths).flatMap(([path, methods]) =>
      Object.keys(methods).map((method) => `#/paths/${path.replaceAll("/", "~1")}/${method}`),
    ),
  );
  const links = Object.values(doc.paths)
    .flatMap((methods) => Object.values(methods))
    .flatMap(({ responses }) => Object.values(responses))
    .flatMap(({ links: l }) => Object.values(l ?? {}));
  expect(links.length).toBeGreaterThan(5);
  for (const { operationRef } of links) expect(operations, operationRef).toContain(operationRef);
  // Schemathesis's ensure_resource_availability: a submit's job has no output until it is decided (404).
  const submitLinks = Object.values(doc.paths["/api/v1/jobs"]?.["post"]?.responses["201"]?.links ?? {});
  expect(submitLinks.map((l) => l.operationRef)).not.toContain("#/paths/~1api~1v1~1jobs~1{jobId}~1result/get");
});
