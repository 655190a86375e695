import { connect } from "node:net";
import Fastify from "fastify";
import { pino } from "pino";
import { afterAll, beforeAll, expect, it, vi } from "vitest";
import { startAdminServer } from "../../src/http/admin-server.js";
import { requireMutatingFlag } from "../../src/http/mutating-routes.js";
import { makeCoordinator, type CoordinatorUnderTest } from "./coordinator-under-test.js";

let env: CoordinatorUnderTest;
beforeAll(async () => {
  env = await makeCoordinator();
});
afterAll(() => env.close());

it("binds loopback on a free port by default and answers over HTTP", async () => {
  expect(env.admin.url).toBe(`http://127.0.0.1:${env.admin.port}`);
  expect(env.admin.port).toBeGreaterThan(0);
  const res = await fetch(`${env.admin.url}/healthz`);
  expect(await res.json()).toMatchObject({ live: true, version: expect.any(String), commit: expect.any(String) });
});

it("answers a failure of the coordinator with a 500 internal, and logs it", async () => {
  const lines: string[] = [];
  const logger = pino({ level: "error" }, { write: (line: string) => lines.push(line) });
  const admin = await startAdminServer(env.coordinator, { logger });
  try {
    vi.spyOn(env.coordinator, "counters").mockImplementationOnce(() => {
      throw new Error("store went away");
    });
    const res = await admin.app.inject({ method: "GET", url: "/api/v1/counters" });
    expect(res.statusCode).toBe(500);
    expect(res.json()).toEqual({ error: { code: "internal", message: "store went away" } });
    expect(
      lines
        .map((l) => JSON.parse(l) as { err?: { message: string } })
        .some((l) => l.err?.message === "store went away"),
    ).toBe(true);
  } finally {
    await admin.close();
  }
});

it("answers a store that is down or out of space with a 503 unavailable naming the cause (regression: was a 500 internal)", async () => {
  const admin = await startAdminServer(env.coordinator);
  try {
    const refused = Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:5432"), { code: "ECONNREFUSED" });
    const full = Object.assign(new Error('could not extend file "base/16384/16406": No space left on device'), {
      code: "53100",
    });
    const shutdown = Object.assign(new Error("terminating connection due to administrator command"), { code: "57P01" });
    for (const err of [refused, full, shutdown]) {
      vi.spyOn(env.coordinator, "submit").mockRejectedValueOnce(err);
      const res = await admin.app.inject({
        method: "POST",
        url: "/api/v1/jobs",
        payload: { component: "echo", input: { json: 1 }, idempotencyKey: "k" },
      });
      expect(res.statusCode).toBe(503);
      expect(res.json()).toEqual({
        error: {
          code: "unavailable",
          message: `the job store is unavailable: ${err.message}; retry with the same idempotencyKey`,
        },
      });
    }
    // A bug in a statement is not the store being unavailable.
    vi.spyOn(env.coordinator, "submit").mockRejectedValueOnce(
      Object.assign(new Error('column "x" does not exist'), { code: "42703" }),
    );
    expect(
      (
        await admin.app.inject({
          method: "POST",
          url: "/api/v1/jobs",
          payload: { component: "echo", input: { json: 1 } },
        })
      ).statusCode,
    ).toBe(500);
  } finally {
    await admin.close();
  }
});

it("closes without waiting for a connection that never sent a request", async () => {
  const admin = await startAdminServer(env.coordinator);
  const socket = connect(admin.port, "127.0.0.1");
  await new Promise((resolve) => socket.once("connect", resolve));
  const started = Date.now();
  await admin.close();
  expect(Date.now() - started).toBeLessThan(1_000);
  socket.destroy();
});

it("refuses to register a state-changing route without config.mutating", async () => {
  const app = Fastify();
  requireMutatingFlag(app);
  app.get("/read", () => "ok");
  app.post("/write", { config: { mutating: true } }, () => "ok");
  expect(() => app.post("/unguarded", () => "ok")).toThrow(/POST \/unguarded changes state but lacks config.mutating/);
  await app.close();
});
