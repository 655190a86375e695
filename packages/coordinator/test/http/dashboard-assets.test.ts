import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, expect, it } from "vitest";
import { buildAdminApp } from "../../src/http/admin-server.js";
import { makeCoordinator, type CoordinatorUnderTest } from "./coordinator-under-test.js";

let env: CoordinatorUnderTest;
let built: string;
let app: FastifyInstance;
let unbuilt: FastifyInstance;
beforeAll(async () => {
  env = await makeCoordinator();
  built = mkdtempSync(join(tmpdir(), "tessera-dashboard-assets-"));
  mkdirSync(join(built, "assets"));
  writeFileSync(join(built, "index.html"), "<!doctype html><div id=app></div>");
  writeFileSync(join(built, "assets", "index-abc123.js"), "console.log('dashboard')");
  app = await buildAdminApp(env.coordinator, {
    logger: false,
    policy: { host: "127.0.0.1", token: undefined },
    dashboard: built,
  });
  unbuilt = await buildAdminApp(env.coordinator, {
    logger: false,
    policy: { host: "127.0.0.1", token: undefined },
    dashboard: join(built, "missing"),
  });
});
afterAll(async () => {
  await app.close();
  await unbuilt.close();
  await env.close();
  rmSync(built, { recursive: true, force: true });
});

it("serves index.html for each page of the app, never framed and revalidated every time", async () => {
  for (const url of ["/", "/components", "/jobs", "/jobs/4fded739-90e3-41a7-818c-3ccbfd1941d9", "/dlq", "/audit"]) {
    const res = await app.inject({ method: "GET", url });
    expect(res.statusCode, url).toBe(200);
    expect(res.headers["content-type"]).toContain("text/html");
    expect(res.body).toContain("<div id=app>");
    expect(res.headers["cache-control"]).toBe("no-cache");
    expect(res.headers["content-security-policy"]).toContain("frame-ancestors 'none'");
  }
});

it("serves hashed assets for good, and leaves the API, the OpenAPI document and unknown paths alone", async () => {
  const asset = await app.inject({ method: "GET", url: "/assets/index-abc123.js" });
  expect(asset.statusCode).toBe(200);
  expect(asset.headers["cache-control"]).toContain("immutable");
  expect((await app.inject({ method: "GET", url: "/assets/nope.js" })).statusCode).toBe(404);
  expect((await app.inject({ method: "GET", url: "/assets/../index.html" })).statusCode).not.toBe(200);
  const missing = await app.inject({ method: "GET", url: "/api/v1/nope" });
  expect(missing.statusCode).toBe(404);
  expect(missing.json()).toMatchObject({ error: { code: "not_found" } });
  expect((await app.inject({ method: "GET", url: "/elsewhere" })).json()).toMatchObject({
    error: { code: "not_found" },
  });
  const doc = (await app.inject({ method: "GET", url: "/openapi.json" })).json() as { paths: Record<string, unknown> };
  expect(
    Object.keys(doc.paths).filter(
      (p) =>
        !p.startsWith("/api/") && !["/openapi.json", "/healthz", "/readyz", "/metrics", "/oauth/callback"].includes(p),
    ),
  ).toEqual([]);
});

it("says how to build the dashboard when it has not been built", async () => {
  const res = await unbuilt.inject({ method: "GET", url: "/jobs" });
  expect(res.statusCode).toBe(503);
  expect(res.body).toContain("npm run build -w @tessera/dashboard");
});
