import type { ComponentBusSettings, Job, Result } from "@tessera/contract";

const RUN = `${process.pid.toString(36)}${Date.now().toString(36).slice(-4)}`;
let counter = 0;

/** A fresh component name per test, so tests never see each other's jobs. */
export function uniqueComponent(prefix = "c"): string {
  return `${prefix}-${RUN}-${++counter}`;
}

export function uniqueJobId(prefix = "job"): string {
  return `${prefix}-${RUN}-${++counter}`;
}

/** A valid Job v1 with an inline input. */
export function makeJob(component: string, overrides: Partial<Job> = {}): Job {
  return {
    schema_version: 1,
    job_id: uniqueJobId(),
    component,
    content_type: "application/json",
    limits: { max_bytes: 1024 * 1024, wall_clock: 10_000 },
    input: { inline: { n: counter } },
    ...overrides,
  };
}

/** A valid completed Result v1. */
export function makeResult(component: string, jobId: string, overrides: Partial<Result> = {}): Result {
  return {
    schema_version: 1,
    job_id: jobId,
    component,
    status: "completed",
    attempt: 1,
    finished_at: new Date().toISOString(),
    output: { data: { ok: true } },
    ...overrides,
  };
}

export function busSettings(
  name: string,
  over: Partial<Omit<ComponentBusSettings, "name">> = {},
): ComponentBusSettings {
  return { name, ackWaitMs: 10_000, maxDeliver: 5, duplicateWindowMs: 60_000, ...over };
}

const decoder = new TextDecoder();
export const text = (bytes: Uint8Array | undefined): string => (bytes === undefined ? "(none)" : decoder.decode(bytes));
export const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);
