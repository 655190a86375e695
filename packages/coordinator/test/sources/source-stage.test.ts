/**
 * The source stage on its own, with short retry delays: which failures it tries again and how often, what it
 * refuses before fetching, and how many fetches it runs at once. The end-to-end behaviour on a real nats-server
 * is in source-locator.test.ts.
 */
import { randomUUID } from "node:crypto";
import { createInProcessBus, type Bus } from "@tessera/bus";
import { SCHEMA_VERSION, type ComponentSpec, type Job, type SourceLocator } from "@tessera/contract";
import { createEgress } from "@tessera/egress";
import { peakOverlap, waitFor } from "@tessera/testkit";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { SourceSecretBook } from "../../src/sources/source-config.js";
import { SourceStage } from "../../src/sources/source-stage.js";
import type { JobSummary } from "../../src/store/job-row.js";
import type { OutboxEntry } from "../../src/store/job-storage.js";
import { MemoryJobStore } from "../../src/store/memory-job-store.js";
import { silent } from "../harness.js";
import { serve, startSourceServer, type SourceServer } from "./source-server.js";

const COMPONENT = "docs";
let server: SourceServer;
let bus: Bus;
let store: MemoryJobStore;
let stage: SourceStage;
let failed: JobSummary[];
let egressOf: ComponentSpec["egress"];
let concurrency: number;

beforeEach(async () => {
  server = await startSourceServer();
  bus = createInProcessBus();
  store = new MemoryJobStore();
  failed = [];
  egressOf = "fetch-controlled";
  concurrency = 8;
  stage = new SourceStage({
    coordinatorId: "tessera:test",
    egress: createEgress({ allow: { cidrs: ["127.0.0.1/32"] } }),
    secrets: new SourceSecretBook(undefined),
    payloads: bus.payloads,
    store,
    log: silent,
    concurrency: () => concurrency,
    egressOf: () => egressOf,
    onChange: () => undefined,
    onFailed: (job) => void failed.push(job),
    retryDelaysMs: [20, 20],
  });
});
afterEach(async () => {
  await stage.stop();
  await bus.close();
  await server.close();
});

/** A recorded source-locator job, as the relay would hand it to the stage. */
async function entry(locator: SourceLocator): Promise<OutboxEntry> {
  const jobId = randomUUID();
  const envelope: Job = {
    schema_version: SCHEMA_VERSION,
    job_id: jobId,
    component: COMPONENT,
    content_type: "*/*",
    limits: { max_bytes: 1024, wall_clock: 1_000 },
    input: { source_locator: locator },
  };
  const { outboxId } = await store.insertJob({ envelope, limitKey: null, idempotencyKey: null });
  return { id: outboxId as number, jobId, component: COMPONENT, limitKey: null, dedupKey: jobId, envelope };
}

/** Admits the entries and waits until each is either ready or failed. */
async function settle(entries: OutboxEntry[]): Promise<{ ready: OutboxEntry[]; failed: JobSummary[] }> {
  expect(stage.admit(entries)).toEqual([]);
  const ready: OutboxEntry[] = [];
  await waitFor(
    "the stage to settle every job",
    () => {
      ready.push(...stage.takeReady(100));
      return ready.length + failed.length === entries.length || undefined;
    },
    10_000,
  );
  return { ready, failed };
}

describe("SourceStage", () => {
  it("passes jobs without a source straight through, holds a source job until fetched, and takes its own back", async () => {
    server.route("/a", serve("a"));
    const source = await entry({ source_url: `${server.origin}/a` });
    const plain = { ...source, id: source.id + 1000, envelope: { ...source.envelope, input: { inline: 1 } } };
    expect(stage.admit([plain, source])).toEqual([plain]);
    expect(stage.holds(source.id)).toBe(true);
    const ready = await waitFor("the source job to be ready", () => stage.takeReady(1)[0], 10_000);
    expect(ready.envelope).toMatchObject({ content_type: "text/plain; charset=utf-8", input: { content_ref: {} } });
    expect(stage.holds(source.id)).toBe(false);
    // What a limit held back, or the bus refused, comes back to the stage; anything else is not its own.
    stage.putBack([ready, plain], true);
    expect(stage.holds(source.id)).toBe(true);
    expect(stage.holds(plain.id)).toBe(false);
    expect(stage.takeReady(10)).toEqual([{ ...ready, mayRepeat: true }]);
  });

  it("tries a 503 three times in all, then fails the job with fetch_http_503", async () => {
    server.route("/busy", (_req, res) => void res.writeHead(503).end());
    const { failed } = await settle([await entry({ source_url: `${server.origin}/busy` })]);
    expect(failed).toEqual([expect.objectContaining({ state: "failed", reasonCode: "fetch_http_503" })]);
    expect(server.hits("/busy")).toBe(3);
  });

  it("does not wait out a Retry-After longer than 30 s: one try, then the job fails", async () => {
    server.route("/later", (_req, res) => void res.writeHead(429, { "retry-after": "3600" }).end());
    const { failed } = await settle([await entry({ source_url: `${server.origin}/later` })]);
    expect(failed).toEqual([expect.objectContaining({ reasonCode: "fetch_http_429" })]);
    expect(server.hits("/later")).toBe(1);
  });

  it("tries a refused connection three times, then fails the job with fetch_network", async () => {
    const closed = await startSourceServer();
    await closed.close();
    const { failed } = await settle([await entry({ source_url: `${closed.origin}/gone` })]);
    expect(failed).toEqual([expect.objectContaining({ reasonCode: "fetch_network" })]);
    const job = await store.getJob(failed[0]?.jobId as string);
    expect(job).toMatchObject({
      attempts: 3,
      instanceId: "tessera:test",
      reasonDetail: expect.stringContaining("ECONNREFUSED"),
    });
  });

  it("fails a job whose component is no longer fetch-controlled with input_mode_unsupported, without fetching", async () => {
    egressOf = "none";
    server.route("/a", serve("a"));
    const { failed } = await settle([await entry({ source_url: `${server.origin}/a` })]);
    expect(failed).toEqual([expect.objectContaining({ reasonCode: "input_mode_unsupported" })]);
    expect(server.requests).toEqual([]);
  });

  it("fails a job naming a secret this coordinator does not hold, without fetching", async () => {
    server.route("/a", serve("a"));
    const { failed } = await settle([await entry({ source_url: `${server.origin}/a`, source_secret_ref: "gone" })]);
    expect(failed).toEqual([expect.objectContaining({ reasonCode: "source_secret_unavailable" })]);
    expect(server.requests).toEqual([]);
  });

  it("runs at most fetch.concurrency fetches at once", async () => {
    concurrency = 2;
    const spans: Array<{ start: number; end: number }> = [];
    server.route("/slow", (_req, res) => {
      const span = { start: Date.now(), end: Infinity };
      spans.push(span);
      setTimeout(() => {
        span.end = Date.now();
        res.writeHead(200, { "content-type": "text/plain" }).end("done");
      }, 50);
    });
    const entries = await Promise.all(Array.from({ length: 6 }, () => entry({ source_url: `${server.origin}/slow` })));
    const { ready } = await settle(entries);
    expect(ready).toHaveLength(6);
    expect(peakOverlap(spans)).toBe(2);
  });
});
