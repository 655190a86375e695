import { readFile } from "node:fs/promises";
import { afterAll, beforeAll, expect, it } from "vitest";
import { makeCoordinator, type CoordinatorUnderTest } from "./coordinator-under-test.js";

interface OpenApiDocument {
  openapi: string;
  info: { title: string; version: string };
  paths: Record<
    string,
    Record<string, { responses: Record<string, { content?: Record<string, { schema: { $ref?: string } }> }> }>
  >;
  components: { schemas: Record<string, { description?: string; properties?: Record<string, unknown> }> };
}

let env: CoordinatorUnderTest;
let doc: OpenApiDocument;
beforeAll(async () => {
  env = await makeCoordinator();
  const res = await env.admin.app.inject({ method: "GET", url: "/openapi.json" });
  expect(res.statusCode).toBe(200);
  doc = res.json();
});
afterAll(() => env.close());

/** `| GET | /api/v1/jobs/{jobId} | …` rows of the route table in docs/admin-api.md. */
async function documentedRoutes(): Promise<string[]> {
  const text = await readFile(new URL("../../../../docs/admin-api.md", import.meta.url), "utf8");
  return [...text.matchAll(/^\| (GET|POST|PUT|DELETE) \| (\/\S+) \|/gm)].map((m) => `${m[1]} ${m[2]}`);
}

it("is an OpenAPI 3.1 document titled for the coordinator", () => {
  expect(doc.openapi).toBe("3.1.0");
  expect(doc.info).toMatchObject({ title: "Tessera coordinator admin API", version: "1" });
});

it("has exactly the routes of the table in docs/admin-api.md", async () => {
  const served = Object.entries(doc.paths).flatMap(([path, methods]) =>
    Object.keys(methods).map((m) => `${m.toUpperCase()} ${path}`),
  );
  const documented = await documentedRoutes();
  expect(documented.length).toBeGreaterThan(10);
  expect(served.sort()).toEqual(documented.sort());
});

it("names the record schemas, with descriptions, for generated clients", () => {
  for (const name of [
    "JobRecord",
    "ComponentStatus",
    "DeadLetterRecord",
    "JobPage",
    "DeadLetterPage",
    "SubmitOutcome",
    "CoordinatorHealth",
    "ResolvedSetting",
    "CoordinatorCounters",
    "JobEvent",
    "Error",
  ]) {
    expect(doc.components.schemas[name], name).toBeDefined();
    expect(doc.components.schemas[name]?.description ?? name, name).not.toBe("");
  }
  expect(doc.paths["/api/v1/jobs/{jobId}"]?.["get"]?.responses["200"]?.content?.["application/json"]?.schema.$ref).toBe(
    "#/components/schemas/JobRecord",
  );
  expect(doc.paths["/api/v1/jobs"]?.["post"]?.responses["404"]?.content?.["application/json"]?.schema.$ref).toBe(
    "#/components/schemas/Error",
  );
  expect(doc.paths["/api/v1/events"]?.["get"]?.responses["200"]?.content?.["text/event-stream"]?.schema.$ref).toBe(
    "#/components/schemas/JobEvent",
  );
});
