import { randomUUID } from "node:crypto";
import type { Job, Result } from "@tessera/contract";
import { expect } from "vitest";
import type { JobStorage } from "../../src/store/job-storage.js";

/** A job of `component` for the store-level suites. */
export function envelope(
  component: string,
  opts: { jobId?: string; input?: unknown; metadata?: Record<string, string> } = {},
): Job {
  return {
    schema_version: 1,
    job_id: opts.jobId ?? randomUUID(),
    component,
    content_type: "application/json",
    limits: { max_bytes: 1_048_576, wall_clock: 60_000 },
    input: { inline: opts.input ?? null },
    ...(opts.metadata !== undefined ? { metadata: opts.metadata } : {}),
  } as Job;
}

export function result(jobId: string, component: string, overrides: Partial<Result> = {}): Result {
  return {
    schema_version: 1,
    job_id: jobId,
    component,
    status: "completed",
    attempt: 1,
    instance_id: "w-1",
    finished_at: new Date().toISOString(),
    duration_ms: 3,
    output: { data: { ok: true } },
    ...overrides,
  } as Result;
}

export async function submit(
  store: JobStorage,
  component = "echo",
  opts: { limitKey?: string | null; idempotencyKey?: string; input?: unknown } = {},
): Promise<{ jobId: string; outboxId: number }> {
  const env = envelope(component, { input: opts.input });
  const inserted = await store.insertJob({
    envelope: env,
    limitKey: opts.limitKey ?? null,
    idempotencyKey: opts.idempotencyKey ?? null,
  });
  expect(inserted.created).toBe(true);
  return { jobId: env.job_id, outboxId: inserted.outboxId as number };
}
