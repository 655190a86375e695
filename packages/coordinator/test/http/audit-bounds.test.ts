import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_MAX_AUDIT_ENTRIES, MemoryAuditLog } from "../../src/audit/memory-audit-log.js";
import { buildAdminApp } from "../../src/http/admin-server.js";
import type { AuditEntry, AuditRecord, Page } from "../../src/types.js";
import { makeCoordinator, type CoordinatorUnderTest } from "./coordinator-under-test.js";

let env: CoordinatorUnderTest;
beforeAll(async () => {
  env = await makeCoordinator();
});
afterAll(() => env.close());

async function auditOf(jobId: string): Promise<AuditEntry[]> {
  const res = await env.admin.app.inject({ method: "GET", url: `/api/v1/audit?jobId=${jobId}&limit=500` });
  expect(res.statusCode).toBe(200);
  return (res.json() as Page<AuditEntry>).items;
}

/** A read-only admin app (beyond loopback, no token): every change it is asked for is refused and audited. */
function readOnlyApp(windowMs: number) {
  return buildAdminApp(env.coordinator, {
    logger: false,
    policy: { host: "0.0.0.0", token: undefined },
    dashboard: undefined,
    refusalLimits: { perWindow: 3, windowMs, maxClients: 2 },
  });
}

describe("refused changes in the audit log", () => {
  it("records the first few per client and window one by one, then one entry counting the rest", async () => {
    const { jobId } = await env.coordinator.submit("idle", { json: 1 });
    const app = await readOnlyApp(60_000);
    for (let i = 0; i < 50; i++)
      expect((await app.inject({ method: "POST", url: `/api/v1/jobs/${jobId}/cancel` })).statusCode).toBe(403);
    expect(await auditOf(jobId)).toHaveLength(3);
    // Closing writes the counts of the windows still open.
    await app.close();
    const entries = await auditOf(jobId);
    expect(entries).toHaveLength(4);
    expect(entries[0]).toMatchObject({
      action: "job.cancel",
      outcome: "refused",
      status: 403,
      jobIds: [jobId],
      detail: expect.stringMatching(
        /^47 more refused job\.cancel requests from 127\.0\.0\.1 \(status 403\)/,
      ) as unknown,
    });
  });

  it("starts a new window once one has ended, writing the ended window's count", async () => {
    const { jobId } = await env.coordinator.submit("idle", { json: 1 });
    const app = await readOnlyApp(1_000);
    try {
      const cancel = () => app.inject({ method: "POST", url: `/api/v1/jobs/${jobId}/cancel` });
      for (let i = 0; i < 10; i++) await cancel();
      await new Promise((resolve) => setTimeout(resolve, 1_100));
      await cancel();
      const details = (await auditOf(jobId)).map((e) => e.detail ?? "");
      expect(details.filter((d) => d.startsWith("7 more refused"))).toHaveLength(1);
      expect(details).toHaveLength(3 + 1 + 1);
    } finally {
      await app.close();
    }
  });

  it("shares one count among clients past maxClients, so many addresses cannot add more", async () => {
    const { jobId } = await env.coordinator.submit("idle", { json: 1 });
    const app = await readOnlyApp(60_000);
    for (let client = 0; client < 20; client++)
      for (let i = 0; i < 5; i++)
        await app.inject({ method: "POST", url: `/api/v1/jobs/${jobId}/cancel`, remoteAddress: `10.0.0.${client}` });
    await app.close();
    const entries = await auditOf(jobId);
    // Two clients tracked, then everyone else as one: 3 each, and one count each.
    expect(entries).toHaveLength(3 * 3 + 3);
    expect(entries.filter((e) => e.actor.remoteAddress === "(other clients)")).toHaveLength(1);
    expect(entries.find((e) => e.actor.remoteAddress === "(other clients)")?.detail).toMatch(/^87 more refused/);
  });

  it("still records every allowed change", async () => {
    const ids = await Promise.all(
      [1, 2, 3, 4, 5].map(async () => (await env.coordinator.submit("idle", { json: 1 })).jobId),
    );
    for (const jobId of ids)
      expect((await env.admin.app.inject({ method: "POST", url: `/api/v1/jobs/${jobId}/cancel` })).statusCode).toBe(
        200,
      );
    for (const jobId of ids) expect(await auditOf(jobId)).toEqual([expect.objectContaining({ outcome: "ok" })]);
  });
});

describe("the memory audit log", () => {
  const record = (n: number): AuditRecord => ({
    action: "job.cancel",
    target: `t${n}`,
    jobIds: [`j${n}`],
    actor: { remoteAddress: "127.0.0.1", token: false, userAgent: null },
    outcome: "refused",
    status: 403,
    detail: "refused",
  });

  it("keeps only the newest entries, pages them with cursors, and keeps ids growing", async () => {
    const log = new MemoryAuditLog(100);
    for (let n = 1; n <= 250; n++) await log.record(record(n));
    const seen: AuditEntry[] = [];
    let cursor: string | undefined;
    do {
      const page = await log.list({ limit: 30, ...(cursor === undefined ? {} : { cursor }) });
      seen.push(...page.items);
      cursor = page.nextCursor ?? undefined;
    } while (cursor !== undefined);
    expect(seen.map((e) => e.id)).toEqual(Array.from({ length: 100 }, (_, i) => 250 - i));
    expect((await log.list({ jobId: "j1" })).items).toEqual([]);
    expect((await log.record(record(251))).id).toBe(251);
  });

  it(`is bounded by default (${DEFAULT_MAX_AUDIT_ENTRIES} entries)`, async () => {
    const log = new MemoryAuditLog();
    for (let n = 1; n <= DEFAULT_MAX_AUDIT_ENTRIES + 10; n++) await log.record(record(n));
    const newest = await log.list({ limit: 500 });
    expect(newest.items[0]?.id).toBe(DEFAULT_MAX_AUDIT_ENTRIES + 10);
    expect((await log.list({ jobId: "j10" })).items).toEqual([]);
    expect((await log.list({ jobId: "j11" })).items).toHaveLength(1);
  });
});
