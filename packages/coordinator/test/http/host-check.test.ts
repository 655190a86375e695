import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildAdminApp, startAdminServer } from "../../src/http/admin-server.js";
import { hostRefusal } from "../../src/http/host-check.js";
import { embedded, spec } from "../harness.js";
import { makeCoordinator, type CoordinatorUnderTest } from "./coordinator-under-test.js";

let env: CoordinatorUnderTest;
let exposed: FastifyInstance;
let configured: FastifyInstance;
beforeAll(async () => {
  env = await makeCoordinator();
  // Built, not listening: the check decides from the configured host and names.
  exposed = await buildAdminApp(env.coordinator, {
    logger: false,
    policy: { host: "0.0.0.0", token: undefined },
    dashboard: undefined,
  });
  configured = await buildAdminApp(env.coordinator, {
    logger: false,
    policy: { host: "0.0.0.0", token: undefined, allowedHosts: ["tessera.internal"] },
    dashboard: undefined,
  });
});
afterAll(async () => {
  await exposed.close();
  await configured.close();
  await env.close();
});

function from(host: string) {
  return { host, origin: `http://${host}` };
}

describe("a DNS-rebinding page (Host: attacker.example, Origin to match) on a loopback coordinator", () => {
  it("is refused with 403 before any route runs: no submit, no redrive-all, no read", async () => {
    const attacker = from(`attacker.example:${env.admin.port}`);
    const before = (await env.coordinator.listJobs({ component: "idle", limit: 500 })).items.length;
    const submit = await env.admin.app.inject({
      method: "POST",
      url: "/api/v1/jobs",
      headers: attacker,
      payload: { component: "idle", input: { json: 1 } },
    });
    expect(submit.statusCode).toBe(403);
    expect(submit.json()).toMatchObject({
      error: {
        code: "forbidden",
        message: expect.stringMatching(/Host "attacker\.example:\d+".*DNS rebinding.*admin\.allowedHosts/) as unknown,
      },
    });
    expect((await env.coordinator.listJobs({ component: "idle", limit: 500 })).items).toHaveLength(before);
    const redrive = await env.admin.app.inject({
      method: "POST",
      url: "/api/v1/dlq/redrive",
      headers: attacker,
      payload: { component: "poison" },
    });
    expect(redrive.statusCode).toBe(403);
    for (const url of ["/api/v1/jobs", "/api/v1/settings", "/openapi.json", "/healthz"])
      expect((await env.admin.app.inject({ method: "GET", url, headers: attacker })).statusCode, url).toBe(403);
  });

  it("is refused whatever the name's case, a trailing dot or a missing port", async () => {
    for (const host of ["ATTACKER.example", "attacker.example.", "attacker.example", "localhost.attacker.example"])
      expect(
        (await env.admin.app.inject({ method: "GET", url: "/api/v1/jobs", headers: { host } })).statusCode,
        host,
      ).toBe(403);
  });
});

describe("the names a loopback coordinator answers to", () => {
  it("takes localhost, 127.0.0.1 and [::1], with the bound port or any other (a dev proxy in front)", async () => {
    const port = env.admin.port;
    for (const host of [
      `localhost:${port}`,
      `127.0.0.1:${port}`,
      `[::1]:${port}`,
      "LOCALHOST",
      "localhost.",
      "127.0.0.1:5173",
    ]) {
      const res = await env.admin.app.inject({ method: "GET", url: "/api/v1/components", headers: { host } });
      expect(res.statusCode, host).toBe(200);
    }
  });

  it("takes a submit from its own dashboard (Host and Origin both 127.0.0.1:port)", async () => {
    const res = await env.admin.app.inject({
      method: "POST",
      url: "/api/v1/jobs",
      headers: from(`127.0.0.1:${env.admin.port}`),
      payload: { component: "idle", input: { json: 1 } },
    });
    expect(res.statusCode).toBe(201);
  });

  it("refuses a malformed Host header", async () => {
    for (const host of ["a b", "attacker.example/path", "user@localhost", "localhost:99999"])
      expect(hostRefusal({ host: "127.0.0.1", token: undefined }, host), host).toMatch(/^refused/);
    expect(hostRefusal({ host: "127.0.0.1", token: undefined }, undefined)).toMatch(/no Host header/);
  });
});

describe("beyond loopback", () => {
  it("with admin.allowedHosts, takes only those names (and localhost and IP addresses)", async () => {
    const read = (app: FastifyInstance, host: string) =>
      app.inject({ method: "GET", url: "/api/v1/components", headers: { host } });
    for (const host of [
      "tessera.internal:7400",
      "TESSERA.internal",
      "10.0.0.5:7400",
      "[fd00::5]:7400",
      "localhost:7400",
    ])
      expect((await read(configured, host)).statusCode, host).toBe(200);
    for (const host of ["attacker.example:7400", "internal", "x.tessera.internal"])
      expect((await read(configured, host)).statusCode, host).toBe(403);
  });

  it("without admin.allowedHosts, takes any name (it cannot know the names a Service or ingress gives it)", async () => {
    const res = await exposed.inject({
      method: "GET",
      url: "/api/v1/components",
      headers: { host: "coordinator.tessera.svc" },
    });
    expect(res.statusCode).toBe(200);
  });

  it("reads the names from TESSERA_ADMIN_ALLOWED_HOSTS (a comma-separated list)", async () => {
    const local = await embedded({ memory: true }, [{ name: "idle", spec: spec() }], {
      env: { TESSERA_ADMIN_ALLOWED_HOSTS: "Tessera.Internal, coordinator.tessera.svc." },
    });
    const admin = await startAdminServer(local.coordinator);
    try {
      expect(local.coordinator.settings.get("admin.allowedHosts")).toMatchObject({
        value: ["tessera.internal", "coordinator.tessera.svc"],
        source: "env",
      });
      const status = async (host: string) =>
        (await admin.app.inject({ method: "GET", url: "/api/v1/components", headers: { host } })).statusCode;
      expect(await status("tessera.internal")).toBe(200);
      expect(await status("coordinator.tessera.svc:7400")).toBe(200);
      expect(await status("attacker.example")).toBe(403);
    } finally {
      await admin.close();
      await local.close();
    }
  });

  it("refuses a malformed TESSERA_ADMIN_ALLOWED_HOSTS at start-up, naming it", async () => {
    await expect(
      embedded({ memory: true }, [], { env: { TESSERA_ADMIN_ALLOWED_HOSTS: "http://tessera.internal/" } }),
    ).rejects.toThrow(/TESSERA_ADMIN_ALLOWED_HOSTS: expected a list of host names/);
  });
});
