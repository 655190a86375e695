/**
 * source_locator jobs end to end on a real nats-server: the coordinator fetches a fetch-controlled component's
 * source through the egress guard (allowed: only this file's loopback document server, by its address and port),
 * the worker reads it by reference, and every way a fetch fails ends the job with a reason code naming why.
 */
import { connectJetStreamBus, type Bus } from "@tessera/bus";
import { inputModeOf, type SourceLocator } from "@tessera/contract";
import { peakOverlap, startNatsServer, type NatsServerHandle } from "@tessera/testkit";
import { defineComponent, runWorker, type WorkerHandle } from "@tessera/worker";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createCoordinator } from "../../src/create-coordinator.js";
import type { Coordinator, JobRecord } from "../../src/types.js";
import { spec } from "../harness.js";
import { redirect, serve, startSourceServer, type SourceServer } from "./source-server.js";

const SECRET = "Bearer tessera-test-s3cret-value-7f3a";
const logs: string[] = [];
let nats: NatsServerHandle;
let docs: SourceServer;
/** Listening on 127.0.0.1 too, but on a port the policy does not list. */
let elsewhere: SourceServer;
let bus: Bus;
let workerBus: Bus;
let coordinator: Coordinator;
let workers: WorkerHandle[] = [];
/** Jobs the worker ran: a job whose fetch failed must never reach it. */
const ran: string[] = [];
/** When each job of the `limited` component ran. */
const spans: Array<{ start: number; end: number }> = [];

beforeAll(async () => {
  [nats, docs, elsewhere] = await Promise.all([startNatsServer(), startSourceServer(), startSourceServer()]);
  bus = await connectJetStreamBus({ servers: nats.url, name: "coordinator" });
  workerBus = await connectJetStreamBus({ servers: nats.url, name: "worker" });
  coordinator = await createCoordinator({
    bus,
    components: [
      { name: "docs", spec: spec({ inputMode: "source-locator", egress: "fetch-controlled", maxBytes: 64 * 1024 }) },
      { name: "sealed", spec: spec({ egress: "none" }) },
      { name: "direct", spec: spec({ egress: "allowlist", allowlist: { openInternet: true } }) },
      {
        name: "limited",
        spec: spec({ inputMode: "source-locator", egress: "fetch-controlled" }),
        limits: { key: "tenant", concurrency: 1 },
      },
    ],
    database: { memory: true },
    env: {},
    settingsFile: {
      "fetch.allow": { cidrs: ["127.0.0.1/32"], ports: [{ port: docs.port }] },
      "fetch.secrets": { "docs-token": { authorization: SECRET, origins: [docs.origin] } },
    },
    logger: pino({ level: "debug" }, { write: (line: string) => void logs.push(line) }),
  });
  const options = { bus: workerBus, logger: pino({ level: "silent" }), heartbeatIntervalMs: 60_000 };
  workers = [
    await runWorker(
      defineComponent({
        isolation: "none",
        name: "docs",
        async handle(ctx) {
          ran.push(ctx.jobId);
          return { mode: inputModeOf(ctx.job), contentType: ctx.job.content_type, text: await ctx.input.text() };
        },
      }),
      options,
    ),
    await runWorker(
      defineComponent({
        isolation: "none",
        name: "limited",
        concurrency: 4,
        async handle(ctx) {
          const span = { start: Date.now(), end: Infinity };
          spans.push(span);
          await new Promise((resolve) => setTimeout(resolve, 100));
          span.end = Date.now();
          return { text: await ctx.input.text() };
        },
      }),
      options,
    ),
  ];
});

afterAll(async () => {
  await Promise.all(workers.map((w) => w.stop()));
  await coordinator?.close();
  await Promise.all([bus?.close(), workerBus?.close()]);
  await Promise.all([docs?.close(), elsewhere?.close(), nats?.stop()]);
});

async function run(locator: SourceLocator, contentType?: string): Promise<JobRecord> {
  const { jobId } = await coordinator.submit(
    "docs",
    { source_locator: locator },
    contentType === undefined ? {} : { contentType },
  );
  return coordinator.waitForJob(jobId, { timeoutMs: 20_000 });
}

describe("a fetch-controlled component's source", () => {
  it("is fetched by the coordinator and reaches the worker by reference, typed as the source serves it", async () => {
    docs.route("/notes.txt", serve("hello from the source", "text/plain; charset=utf-8"));
    const job = await run({ source_url: `${docs.origin}/notes.txt` });
    expect(job).toMatchObject({ state: "completed", reasonCode: null });
    expect(job.output?.data).toEqual({
      mode: "content_ref",
      contentType: "text/plain; charset=utf-8",
      text: "hello from the source",
    });
    // The record keeps what was submitted: where the input comes from, its type still open.
    expect(job.envelope).toMatchObject({
      content_type: "*/*",
      input: { source_locator: { source_url: `${docs.origin}/notes.txt` } },
    });
    expect(docs.requests.at(-1)?.headers["accept"]).toBe("*/*");
  });

  it("keeps the submitter's content type, and asks the source for it", async () => {
    docs.route("/guide", serve("# A guide", "text/plain"));
    const job = await run({ source_url: `${docs.origin}/guide` }, "text/markdown");
    expect(job.output?.data).toMatchObject({ contentType: "text/markdown", text: "# A guide" });
    expect(docs.requests.at(-1)?.headers["accept"]).toBe("text/markdown");
  });

  it("sends a named secret as the Authorization header to its origin, and neither stores nor logs it", async () => {
    docs.route("/private", (req, res) => {
      if (req.headers.authorization === SECRET) res.writeHead(200, { "content-type": "text/plain" }).end("for you");
      else res.writeHead(401).end();
    });
    const job = await run({ source_url: `${docs.origin}/private`, source_secret_ref: "docs-token" });
    expect(job).toMatchObject({ state: "completed", output: { data: { text: "for you" } } });
    expect(job.envelope.input.source_locator?.source_secret_ref).toBe("docs-token");
    expect(JSON.stringify(await coordinator.listJobs({ limit: 500 }))).not.toContain("s3cret");
    expect(JSON.stringify(coordinator.settings.list())).not.toContain("s3cret");
  });

  it("is fetched, then held to its component's per-key limits like any job", async () => {
    docs.route("/tenant-doc", serve("limited"));
    const submitted = await Promise.all(
      [1, 2, 3].map(() =>
        coordinator.submit(
          "limited",
          { source_locator: { source_url: `${docs.origin}/tenant-doc` } },
          { metadata: { tenant: "acme" } },
        ),
      ),
    );
    const jobs = await Promise.all(submitted.map((s) => coordinator.waitForJob(s.jobId, { timeoutMs: 20_000 })));
    expect(jobs.map((j) => j.state)).toEqual(["completed", "completed", "completed"]);
    expect(peakOverlap(spans)).toBe(1);
  });

  it("is fetched again when the source answers 503 once, and the job completes", async () => {
    let calls = 0;
    docs.route("/flaky", (_req, res) => {
      calls += 1;
      if (calls === 1) res.writeHead(503).end("busy");
      else res.writeHead(200, { "content-type": "text/plain" }).end("second time lucky");
    });
    const job = await run({ source_url: `${docs.origin}/flaky` });
    expect(job).toMatchObject({ state: "completed", output: { data: { text: "second time lucky" } } });
    expect(calls).toBe(2);
  });
});

describe("a fetch that fails fails the job with a reason naming why, and its worker never runs it", () => {
  const cases: Array<[what: string, reason: string, locator: () => SourceLocator, detail: RegExp]> = [
    [
      "a private address",
      "egress_denied",
      () => ({ source_url: "http://10.1.2.3/doc" }),
      /10\.1\.2\.3 port 80 is a private address \(rule: address_class, address class: private\)/,
    ],
    [
      "the cloud metadata service",
      "egress_denied",
      () => ({ source_url: "http://169.254.169.254/latest/meta-data/" }),
      /is a metadata address \(rule: address_class, address class: metadata\)/,
    ],
    [
      "a loopback port the policy does not list",
      "egress_denied",
      () => ({ source_url: `${elsewhere.origin}/doc` }),
      /not in the allowed ports \(rule: port, address class: loopback\)/,
    ],
    [
      "a redirect to the metadata service",
      "egress_denied",
      () => ({ source_url: `${docs.origin}/to-metadata` }),
      /169\.254\.169\.254 port 80 is a metadata address/,
    ],
    [
      "a redirect to a private address",
      "egress_denied",
      () => ({ source_url: `${docs.origin}/to-private` }),
      /192\.168\.1\.1 port 80 is a private address/,
    ],
    [
      "a redirect to a loopback port not allowed",
      "egress_denied",
      () => ({ source_url: `${docs.origin}/to-elsewhere` }),
      /address class: loopback/,
    ],
    ["a 404", "fetch_http_404", () => ({ source_url: `${docs.origin}/missing` }), /answered 404/],
    ["a 403", "fetch_http_403", () => ({ source_url: `${docs.origin}/forbidden` }), /answered 403/],
    [
      "a body over fetch_limits.max_bytes",
      "fetch_too_large",
      () => ({ source_url: `${docs.origin}/big`, fetch_limits: { max_bytes: 1024 } }),
      /larger than 1024 bytes/,
    ],
    [
      "a body over the job's max_bytes, streamed without a length",
      "fetch_too_large",
      () => ({ source_url: `${docs.origin}/endless` }),
      /larger than 65536 bytes/,
    ],
    [
      "a source slower than fetch_limits.timeout_ms",
      "fetch_timeout",
      () => ({ source_url: `${docs.origin}/slow`, fetch_limits: { timeout_ms: 300 } }),
      /not finished within 300 ms/,
    ],
    [
      "more redirects than fetch_limits.max_redirects",
      "fetch_too_many_redirects",
      () => ({ source_url: `${docs.origin}/hop-1`, fetch_limits: { max_redirects: 1 } }),
      /more than 1 redirects/,
    ],
  ];

  beforeAll(() => {
    docs.route("/to-metadata", redirect("http://169.254.169.254/latest/meta-data/"));
    docs.route("/to-private", redirect("http://192.168.1.1/admin"));
    docs.route("/to-elsewhere", redirect(`${elsewhere.origin}/doc`));
    docs.route("/forbidden", (_req, res) => void res.writeHead(403).end());
    docs.route("/big", serve("x".repeat(4096)));
    docs.route("/endless", (_req, res) => {
      res.writeHead(200, { "content-type": "text/plain" });
      const chunk = "y".repeat(16 * 1024);
      const timer = setInterval(() => res.write(chunk), 1);
      res.on("close", () => clearInterval(timer));
    });
    docs.route("/slow", (_req, res) => void res.writeHead(200, { "content-type": "text/plain" }).write("starting"));
    docs.route("/hop-1", redirect("/hop-2"));
    docs.route("/hop-2", redirect("/notes.txt"));
    elsewhere.route("/doc", serve("never served"));
  });

  it.each(cases)("%s: %s", async (_what, reason, locator, detail) => {
    const before = ran.length;
    const job = await run(locator());
    expect(job).toMatchObject({ state: "failed", reasonCode: reason, instanceId: coordinator.id, dispatches: 0 });
    expect(job.reasonDetail).toMatch(detail);
    expect(ran.length).toBe(before);
  });

  it("never connects to a denied address, asks a 4xx source only once, and never logs a secret", async () => {
    expect(elsewhere.requests).toEqual([]);
    expect(docs.hits("/missing")).toBe(1);
    expect(docs.hits("/forbidden")).toBe(1);
    const failed = await run({ source_url: `${docs.origin}/missing`, source_secret_ref: "docs-token" });
    expect(failed).toMatchObject({ state: "failed", reasonCode: "fetch_http_404" });
    expect(logs.join("")).toContain(failed.jobId);
    expect(logs.join("")).not.toContain("s3cret");
  });
});
