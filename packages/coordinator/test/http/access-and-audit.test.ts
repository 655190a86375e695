import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isLoopbackHost } from "../../src/http/access-guard.js";
import { buildAdminApp, startAdminServer } from "../../src/http/admin-server.js";
import type { AuditEntry, Page } from "../../src/types.js";
import { embedded, spec } from "../harness.js";
import { makeCoordinator, type CoordinatorUnderTest } from "./coordinator-under-test.js";

const TOKEN = "s3cret-token-for-tests-0123";

let env: CoordinatorUnderTest;
let withToken: FastifyInstance;
let exposed: FastifyInstance;
beforeAll(async () => {
  env = await makeCoordinator();
  // Built, not listening: the guard decides from the configured host, so 0.0.0.0 needs no real bind.
  withToken = await buildAdminApp(env.coordinator, {
    logger: false,
    policy: { host: "127.0.0.1", token: TOKEN },
    dashboard: undefined,
  });
  exposed = await buildAdminApp(env.coordinator, {
    logger: false,
    policy: { host: "0.0.0.0", token: undefined },
    dashboard: undefined,
  });
});
afterAll(async () => {
  await withToken.close();
  await exposed.close();
  await env.close();
});

async function pendingJob(): Promise<string> {
  return (await env.coordinator.submit("idle", { json: { n: 1 } })).jobId;
}

async function auditOf(jobId: string): Promise<AuditEntry[]> {
  const res = await env.admin.app.inject({ method: "GET", url: `/api/v1/audit?jobId=${jobId}` });
  expect(res.statusCode).toBe(200);
  return (res.json() as Page<AuditEntry>).items;
}

it("knows loopback hosts from the rest", () => {
  for (const host of ["127.0.0.1", "127.1.2.3", "::1", "[::1]", "localhost", "::ffff:127.0.0.1"])
    expect(isLoopbackHost(host), host).toBe(true);
  for (const host of ["0.0.0.0", "::", "10.0.0.5", "192.168.1.2", "example.com", "128.0.0.1"])
    expect(isLoopbackHost(host), host).toBe(false);
});

describe("without a token, on loopback", () => {
  it("allows changes and audits them with the caller", async () => {
    const jobId = await pendingJob();
    const res = await env.admin.app.inject({
      method: "POST",
      url: `/api/v1/jobs/${jobId}/cancel`,
      headers: { "user-agent": "audit-test" },
    });
    expect(res.statusCode).toBe(200);
    expect(await auditOf(jobId)).toEqual([
      expect.objectContaining({
        action: "job.cancel",
        target: jobId,
        jobIds: [jobId],
        outcome: "ok",
        status: 200,
        detail: null,
        actor: { remoteAddress: "127.0.0.1", token: false, userAgent: "audit-test" },
      }),
    ]);
  });

  it("audits a failed change with the error message", async () => {
    const jobId = await pendingJob();
    await env.coordinator.cancel(jobId);
    const res = await env.admin.app.inject({ method: "POST", url: `/api/v1/jobs/${jobId}/cancel` });
    expect(res.statusCode).toBe(409);
    expect((await auditOf(jobId))[0]).toMatchObject({
      outcome: "failed",
      status: 409,
      detail: expect.stringContaining("already cancelled") as unknown,
    });
  });

  it("refuses a change requested from another origin", async () => {
    const jobId = await pendingJob();
    const res = await env.admin.app.inject({
      method: "POST",
      url: `/api/v1/jobs/${jobId}/cancel`,
      headers: { origin: "https://evil.example" },
    });
    expect(res.statusCode).toBe(403);
    expect(res.json()).toMatchObject({
      error: { code: "forbidden", message: expect.stringContaining("another origin") as unknown },
    });
    expect((await env.coordinator.getJob(jobId))?.state).not.toBe("cancelled");
    const same = await env.admin.app.inject({
      method: "POST",
      url: `/api/v1/jobs/${jobId}/cancel`,
      headers: { origin: "http://localhost:80", host: "localhost:80" },
    });
    expect(same.statusCode).toBe(200);
  });

  it("says changes are open", async () => {
    const res = await env.admin.app.inject({ method: "GET", url: "/api/v1/access" });
    expect(res.json()).toMatchObject({ mode: "open", canChange: true, tokenAccepted: false });
  });
});

describe("with a token", () => {
  it("refuses changes without it or with a wrong one (401), and audits the refusal", async () => {
    const jobId = await pendingJob();
    const none = await withToken.inject({ method: "POST", url: `/api/v1/jobs/${jobId}/cancel` });
    expect(none.statusCode).toBe(401);
    expect(none.json()).toMatchObject({
      error: { code: "unauthorized", message: expect.stringContaining("Authorization: Bearer") as unknown },
    });
    const wrong = await withToken.inject({
      method: "POST",
      url: `/api/v1/jobs/${jobId}/cancel`,
      headers: { authorization: "Bearer nope-nope-nope-nope" },
    });
    expect(wrong.statusCode).toBe(401);
    expect(wrong.json()).toMatchObject({ error: { message: expect.stringContaining("does not match") as unknown } });
    expect(wrong.body).not.toContain(TOKEN);
    expect((await env.coordinator.getJob(jobId))?.state).not.toBe("cancelled");
    const entries = await auditOf(jobId);
    expect(entries.map((e) => [e.outcome, e.status, e.actor.token])).toEqual([
      ["refused", 401, false],
      ["refused", 401, false],
    ]);
  });

  it("allows changes with it, and says so", async () => {
    const jobId = await pendingJob();
    const res = await withToken.inject({
      method: "POST",
      url: `/api/v1/jobs/${jobId}/cancel`,
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    expect(res.statusCode).toBe(200);
    expect((await auditOf(jobId))[0]).toMatchObject({ outcome: "ok", actor: { token: true } });
    expect((await withToken.inject({ method: "GET", url: "/api/v1/access" })).json()).toMatchObject({
      mode: "token",
      canChange: false,
      tokenAccepted: false,
    });
    expect(
      (
        await withToken.inject({ method: "GET", url: "/api/v1/access", headers: { authorization: `Bearer ${TOKEN}` } })
      ).json(),
    ).toMatchObject({
      mode: "token",
      canChange: true,
      tokenAccepted: true,
    });
  });

  it("keeps reads open", async () => {
    expect((await withToken.inject({ method: "GET", url: "/api/v1/components" })).statusCode).toBe(200);
  });
});

describe("without a token, beyond loopback", () => {
  it("is read-only: changes get 403 with what to do, reads work", async () => {
    const jobId = await pendingJob();
    const res = await exposed.inject({ method: "POST", url: "/api/v1/dlq/redrive", payload: { component: "poison" } });
    expect(res.statusCode).toBe(403);
    expect(res.json()).toMatchObject({
      error: { code: "forbidden", message: expect.stringContaining("TESSERA_ADMIN_TOKEN") as unknown },
    });
    expect((await exposed.inject({ method: "POST", url: `/api/v1/jobs/${jobId}/cancel` })).statusCode).toBe(403);
    expect(
      (
        await exposed.inject({
          method: "POST",
          url: "/api/v1/jobs",
          payload: { component: "idle", input: { json: 1 } },
        })
      ).statusCode,
    ).toBe(403);
    expect((await exposed.inject({ method: "GET", url: `/api/v1/jobs/${jobId}` })).statusCode).toBe(200);
    expect((await exposed.inject({ method: "GET", url: "/api/v1/access" })).json()).toMatchObject({
      mode: "read_only",
      canChange: false,
      message: expect.stringContaining("read-only") as unknown,
    });
    const all = (
      await env.admin.app.inject({ method: "GET", url: "/api/v1/audit?limit=500" })
    ).json() as Page<AuditEntry>;
    expect(all.items.find((e) => e.action === "dlq.redrive_all")).toMatchObject({
      target: "poison",
      outcome: "refused",
      status: 403,
    });
  });
});

it("audits redrive-all with every job it redrove, and pages the log newest first", async () => {
  const ids = await Promise.all(
    [1, 2].map(async (n) => (await env.coordinator.submit("poison", { json: { n } })).jobId),
  );
  await Promise.all(ids.map((id) => env.coordinator.waitForJob(id, { timeoutMs: 10_000 })));
  const res = await env.admin.app.inject({
    method: "POST",
    url: "/api/v1/dlq/redrive",
    payload: { component: "poison" },
  });
  expect(res.statusCode).toBe(200);
  const redriven = (res.json() as { jobIds: string[] }).jobIds;
  expect(redriven).toEqual(expect.arrayContaining(ids));
  const [entry] = await auditOf(ids[0] as string);
  expect(entry).toMatchObject({ action: "dlq.redrive_all", target: "poison", outcome: "ok" });
  expect(entry?.jobIds.sort()).toEqual([...redriven].sort());

  const first = (
    await env.admin.app.inject({ method: "GET", url: "/api/v1/audit?limit=2" })
  ).json() as Page<AuditEntry>;
  expect(first.items).toHaveLength(2);
  expect(first.items[0]?.id).toBeGreaterThan(first.items[1]?.id ?? Infinity);
  expect(first.nextCursor).not.toBeNull();
  const second = (
    await env.admin.app.inject({ method: "GET", url: `/api/v1/audit?limit=2&cursor=${first.nextCursor}` })
  ).json() as Page<AuditEntry>;
  expect(second.items[0]?.id).toBeLessThan(first.items[1]?.id ?? 0);
});

it("takes the token from the admin.token setting and never shows it", async () => {
  const settings = (await env.admin.app.inject({ method: "GET", url: "/api/v1/settings" })).json() as {
    items: { name: string; value: unknown; class?: string }[];
  };
  expect(settings.items.find((s) => s.name === "admin.token")).toMatchObject({ value: null, class: "secret" });
});

it("reads the token from TESSERA_ADMIN_TOKEN, shows it only as (set), and never echoes a bad one", async () => {
  const local = await embedded({ memory: true }, [{ name: "idle", spec: spec() }], {
    env: { TESSERA_ADMIN_TOKEN: TOKEN },
  });
  const admin = await startAdminServer(local.coordinator);
  try {
    expect(local.coordinator.settings.get("admin.token")).toMatchObject({
      value: "(set)",
      source: "env",
      class: "secret",
    });
    expect(JSON.stringify(local.coordinator.settings.list())).not.toContain(TOKEN);
    const { jobId } = await local.coordinator.submit("idle", { json: 1 });
    expect((await admin.app.inject({ method: "POST", url: `/api/v1/jobs/${jobId}/cancel` })).statusCode).toBe(401);
    expect(
      (
        await admin.app.inject({
          method: "POST",
          url: `/api/v1/jobs/${jobId}/cancel`,
          headers: { authorization: `Bearer ${TOKEN}` },
        })
      ).statusCode,
    ).toBe(200);
  } finally {
    await admin.close();
    await local.close();
  }
  const bad = "short token";
  const refused = embedded({ memory: true }, [{ name: "idle", spec: spec() }], { env: { TESSERA_ADMIN_TOKEN: bad } });
  await expect(refused).rejects.toThrow(/admin\.token .*at least 16 printable/);
  await refused.catch((err: Error) => expect(err.message).not.toContain(bad));
});
