import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { waitFor } from "@tessera/testkit";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { componentStatus, startFakeAdminServer, type FakeAdminServer } from "./helpers/fake-admin-server.js";
import { runTessera } from "./helpers/run-tessera.js";
import { tempFiles } from "./helpers/temp-files.js";

// Against a stand-in for the admin API until createCoordinator + startAdminServer are exported together.
let server: FakeAdminServer;
let url: string[];

beforeEach(async () => {
  server = await startFakeAdminServer([
    componentStatus("word-count", {
      state: "running",
      summary: "2 healthy instances",
      healthyInstances: 2,
      instances: [
        { instanceId: "a", version: "1", inFlight: 1, lastHeartbeatAt: new Date().toISOString(), stale: false },
        { instanceId: "b", version: "1", inFlight: 0, lastHeartbeatAt: new Date().toISOString(), stale: false },
      ],
      queueDepth: { pending: 3, ackPending: 1, total: 4 },
      jobs: { pending: 1, queued: 4, completed: 10, failed: 2, cancelled: 0 },
    }),
    componentStatus("extract", { queueDepth: null }),
  ]);
  url = ["--url", server.url];
});
afterEach(async () => {
  await server.close();
});

const lastBody = (): Record<string, unknown> => server.requests.at(-1)?.body as Record<string, unknown>;

describe("tessera components", () => {
  it("tabulates state, instances, queue depth and jobs by state", async () => {
    const result = await runTessera(["components", ...url]);
    expect(result.code).toBe(0);
    const lines = result.stdout.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^NAME\s+STATE\s+INSTANCES\s+QUEUE\s+JOBS$/);
    expect(lines[1]).toMatch(/^word-count\s+2 healthy instances\s+2\/2\s+3\/1\s+pending 1, queued 4, completed 10, failed 2$/);
    expect(lines[2]).toMatch(/^extract\s+declared, no healthy instance\s+0\/0\s+unknown\s+none$/);
  });

  it("--json and a single component; an unknown one exits 4", async () => {
    const one = await runTessera(["components", "extract", "--json", ...url]);
    expect(JSON.parse(one.stdout)).toMatchObject({ name: "extract", state: "declared" });
    const missing = await runTessera(["components", "nope", ...url]);
    expect(missing).toMatchObject({ code: 4, stderr: 'error: no component named "nope"\n' });
  });

  it("TESSERA_URL is used when --url is absent", async () => {
    const result = await runTessera(["components", "--json"], { env: { TESSERA_URL: server.url } });
    expect(result.code).toBe(0);
    expect((JSON.parse(result.stdout) as { items: unknown[] }).items).toHaveLength(2);
  });
});

describe("tessera jobs submit", () => {
  it("sends text, metadata, idempotency key, deadline and content type", async () => {
    const result = await runTessera(["jobs", "submit", "word-count", "--text", "hello world", "--meta", "tenant=acme", "--meta", "lang=en", "--key", "k1", "--deadline", "5m", "--content-type", "text/plain", ...url]);
    expect(result).toMatchObject({ code: 0, stdout: "submitted job job-1 to word-count (pending)\n" });
    const body = lastBody();
    expect(body).toMatchObject({ component: "word-count", input: { text: "hello world" }, metadata: { tenant: "acme", lang: "en" }, idempotencyKey: "k1", contentType: "text/plain" });
    const deadlineIn = Date.parse(body["deadline"] as string) - Date.now();
    expect(deadlineIn).toBeGreaterThan(4 * 60_000);
    expect(deadlineIn).toBeLessThanOrEqual(5 * 60_000);

    const again = await runTessera(["jobs", "submit", "word-count", "--text", "other", "--idempotency-key", "k1", "--json", ...url]);
    expect(JSON.parse(again.stdout)).toEqual({ jobId: "job-1", created: false, state: "pending" });
  });

  it("sends JSON as json and a file as its bytes in base64", async () => {
    await runTessera(["jobs", "submit", "word-count", "--json-input", '{"n":[1,2]}', ...url]);
    expect(lastBody()["input"]).toEqual({ json: { n: [1, 2] } });
    const dir = await tempFiles({ "in.bin": "\u0000\u00ffbytes" });
    await runTessera(["jobs", "submit", "word-count", "--file", join(dir, "in.bin"), ...url]);
    expect(lastBody()["input"]).toEqual({ base64: (await readFile(join(dir, "in.bin"))).toString("base64") });
  });

  it("an unknown component exits 4; a rejected request exits 2 with the coordinator's issues", async () => {
    const unknown = await runTessera(["jobs", "submit", "nope", "--text", "x", ...url]);
    expect(unknown).toMatchObject({ code: 4, stderr: 'error: no component named "nope"\n' });
    server.rejectSubmit = () => [{ path: "body.deadline", expected: "a time in the future", received: "2000-01-01T00:00:00.000Z" }];
    const rejected = await runTessera(["jobs", "submit", "word-count", "--text", "x", "--deadline", "2000-01-01T00:00:00Z", ...url]);
    expect(rejected).toMatchObject({ code: 2, stderr: "error: invalid request\n  body.deadline: expected a time in the future, got 2000-01-01T00:00:00.000Z\n" });
  });

  it("--wait prints the state changes and the finished job; exit 0 when completed, 1 when failed", async () => {
    server.onSubmit = () => ({ state: "completed" });
    const ok = await runTessera(["jobs", "submit", "word-count", "--text", "a b", "--wait", ...url]);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/^submitted job job-1 to word-count\n[^]*job-1 {2}word-count {2}completed\n/);
    expect(ok.stdout).toMatch(/\nstate\s+completed\n/);

    server.onSubmit = () => ({ state: "failed", reasonCode: "handler_error" });
    const failed = await runTessera(["jobs", "submit", "word-count", "--text", "a b", "--wait", "--json", ...url]);
    expect(failed.code).toBe(1);
    expect(JSON.parse(failed.stdout)).toMatchObject({ jobId: "job-2", state: "failed", reasonCode: "handler_error" });
    expect(failed.stderr).toContain("job-2  word-count  failed  handler_error");
  });

  it("bulk: one job per file from a directory, a summary table, per-file keys, --wait with an exit 1 when one fails", async () => {
    const dir = await tempFiles({ "a.txt": "a", "b.txt": "b", "c.txt": "c", ".hidden": "h" });
    server.onSubmit = (job) => (job.jobId === "job-2" ? { state: "failed", reasonCode: "empty_input" } : { state: "completed" });
    const result = await runTessera(["jobs", "submit", "word-count", "--files", dir, "--key", "batch", "--wait", ...url]);
    expect(result.code).toBe(1);
    const keys = server.requests.filter((r) => r.method === "POST").map((r) => (r.body as { idempotencyKey: string }).idempotencyKey);
    expect(keys.sort()).toEqual(["a.txt", "b.txt", "c.txt"].map((f) => `batch:${join(dir, f)}`));
    expect(result.stderr).toContain("submitted 3 of 3 files to word-count\n");
    expect(result.stderr).toContain("all 3 jobs finished\n");
    const rows = result.stdout.trimEnd().split("\n");
    expect(rows[0]).toMatch(/^FILE\s+JOB\s+STATE\s+NOTE$/);
    expect(rows.slice(1).map((r) => r.split(/\s+/).slice(2))).toEqual(
      expect.arrayContaining([["completed"], ["completed"], ["failed", "empty_input"]]),
    );
  });

  it("bulk --json records a rejected file, carries on, and exits 1", async () => {
    const dir = await tempFiles({ "a.txt": "a", "b.txt": "b" });
    server.rejectSubmit = (body) => (body.input.base64 === Buffer.from("b").toString("base64") ? [{ path: "body.input", expected: "not b", received: "b" }] : undefined);
    const result = await runTessera(["jobs", "submit", "word-count", "--file", join(dir, "a.txt"), "--file", join(dir, "b.txt"), "--json", ...url]);
    expect(result.code).toBe(1);
    expect(JSON.parse(result.stdout)).toEqual({
      component: "word-count",
      items: [
        { file: join(dir, "a.txt"), jobId: "job-1", created: true, state: "pending" },
        { file: join(dir, "b.txt"), error: "invalid request; body.input: expected not b, got b" },
      ],
    });
    expect(result.stderr).toBe("submitted 1 of 2 files to word-count (1 rejected)\n");
  });
});

describe("tessera jobs get / list / cancel", () => {
  beforeEach(() => {
    for (let i = 1; i <= 5; i++) server.addJob({ jobId: `job-${i}`, component: i % 2 === 0 ? "extract" : "word-count", state: i === 3 ? "failed" : "completed", reasonCode: i === 3 ? "handler_error" : null, reasonDetail: i === 3 ? "boom" : null, attempts: i === 3 ? 5 : 1 });
  });

  it("get shows the job; --json gives the record; an unknown id exits 4", async () => {
    const human = await runTessera(["jobs", "get", "job-3", ...url]);
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/^job\s+job-3\ncomponent\s+word-count\nstate\s+failed \(handler_error: boom\)\nattempts\s+5 /);
    const json = await runTessera(["jobs", "get", "job-3", "--json", ...url]);
    expect(JSON.parse(json.stdout)).toMatchObject({ jobId: "job-3", attempts: 5 });
    expect(await runTessera(["jobs", "get", "job-9", ...url])).toMatchObject({ code: 4, stderr: 'error: no job "job-9"\n' });
  });

  it("list tabulates id, component, state, attempts, reason, age and passes the filters", async () => {
    const result = await runTessera(["jobs", "list", "--state", "failed", "--component", "word-count", ...url]);
    expect(result.code).toBe(0);
    expect(server.requests.at(-1)?.url).toBe("/api/v1/jobs?component=word-count&state=failed");
    expect(result.stdout).toMatch(/^ID\s+COMPONENT\s+STATE\s+ATTEMPTS\s+REASON\s+AGE\njob-3\s+word-count\s+failed\s+5\s+handler_error: boom\s+\d+s\n$/);
  });

  it("list pages with --limit and --cursor, and --all follows every page", async () => {
    const first = await runTessera(["jobs", "list", "--limit", "2", ...url]);
    expect(first.stdout.trimEnd().split("\n")).toHaveLength(3);
    expect(first.stderr).toBe("more jobs: add --cursor 2 (or --all)\n");
    const all = await runTessera(["jobs", "list", "--limit", "2", "--all", "--json", ...url]);
    const page = JSON.parse(all.stdout) as { items: { jobId: string }[]; nextCursor: string | null };
    expect(page.items.map((j) => j.jobId)).toEqual(["job-5", "job-4", "job-3", "job-2", "job-1"]);
    expect(page.nextCursor).toBeNull();
  });

  it("cancel cancels a running job; a finished one exits 5", async () => {
    server.addJob({ jobId: "job-6", component: "extract", state: "queued" });
    expect(await runTessera(["jobs", "cancel", "job-6", ...url])).toMatchObject({ code: 0, stdout: "cancelled job job-6 (extract)\n" });
    const again = await runTessera(["jobs", "cancel", "job-6", ...url]);
    expect(again).toMatchObject({ code: 5, stderr: expect.stringContaining('job "job-6" is already cancelled') as unknown });
  });
});

describe("tessera jobs watch", () => {
  it("with ids: one line per change with a done count; exit 1 when one failed", async () => {
    server.addJob({ jobId: "job-a", component: "word-count", state: "queued" });
    server.addJob({ jobId: "job-b", component: "word-count", state: "pending" });
    server.addJob({ jobId: "job-c", component: "word-count", state: "completed" });
    const watching = runTessera(["jobs", "watch", "job-a", "job-b", "job-c", ...url]);
    await waitFor("the watch to subscribe", () => server.subscribers() === 1);
    await waitFor("the watch to read the current states", () => server.requests.filter((r) => r.url.startsWith("/api/v1/jobs/")).length === 3);
    server.setState("job-b", "queued");
    server.setState("job-a", "completed");
    server.setState("job-b", "failed", "timeout");
    const result = await watching;
    expect(result.code).toBe(1);
    const lines = result.stdout.trimEnd().split("\n").map((l) => l.replace(/^\S+ {2}/, ""));
    expect(lines).toEqual([
      "job-a  word-count  queued  (0/3 done)",
      "job-b  word-count  pending  (0/3 done)",
      "job-c  word-count  completed  (1/3 done)",
      "job-b  word-count  queued  (1/3 done)",
      "job-a  word-count  completed  (2/3 done)",
      "job-b  word-count  failed  timeout  (3/3 done)",
    ]);
    await waitFor("the watch to close its event stream", () => server.subscribers() === 0);
  });

  it("returns at once when every job has already finished; --json prints one event per line", async () => {
    server.addJob({ jobId: "job-x", component: "extract", state: "completed" });
    const result = await runTessera(["jobs", "watch", "job-x", "--json", ...url]);
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ jobId: "job-x", state: "completed" });
  });

  it("an unknown id exits 4", async () => {
    expect(await runTessera(["jobs", "watch", "job-zz", ...url])).toMatchObject({ code: 4 });
  });
});

describe("tessera dlq", () => {
  beforeEach(() => {
    for (const id of ["job-d1", "job-d2"]) {
      server.addJob({ jobId: id, component: "extract", state: "failed", reasonCode: "dead_lettered" });
      server.deadLetters.push({ jobId: id, component: "extract", deliveries: 5, reasonCode: "handler_error", reasonDetail: "boom", deadLetteredAt: new Date().toISOString(), redrivenAt: null });
    }
  });

  it("list tabulates dead letters", async () => {
    const result = await runTessera(["dlq", "list", "--component", "extract", ...url]);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^JOB\s+COMPONENT\s+DELIVERIES\s+REASON\s+AGE\s+REDRIVEN\njob-d1\s+extract\s+5\s+handler_error: boom\s+\d+s\n/);
  });

  it("redrive one job; a job that is not dead-lettered exits 5", async () => {
    expect(await runTessera(["dlq", "redrive", "job-d1", ...url])).toMatchObject({ code: 0, stdout: "redrove job job-d1 (extract): now pending\n" });
    expect(await runTessera(["dlq", "redrive", "job-d1", ...url])).toMatchObject({ code: 5 });
  });

  it("redrive --all refuses without a terminal or --yes, asks on a terminal, and runs with --yes", async () => {
    const refused = await runTessera(["dlq", "redrive", "--component", "extract", "--all", ...url]);
    expect(refused).toMatchObject({ code: 2, stderr: expect.stringContaining("refusing to redrive 2 jobs of extract without confirmation (stdin is not a terminal); add --yes") as unknown });
    expect(server.requests.some((r) => r.url === "/api/v1/dlq/redrive")).toBe(false);

    const declined = await runTessera(["dlq", "redrive", "--component", "extract", "--all", ...url], { answer: "n" });
    expect(declined).toMatchObject({ code: 1, stderr: expect.stringContaining("Redrive 2 dead-lettered jobs of extract?") as unknown });
    expect(server.requests.some((r) => r.url === "/api/v1/dlq/redrive")).toBe(false);

    const confirmed = await runTessera(["dlq", "redrive", "--component", "extract", "--all", ...url], { answer: "y" });
    expect(confirmed).toMatchObject({ code: 0, stdout: "redrove 2 jobs of extract:\n  job-d1\n  job-d2\n" });

    const nothingLeft = await runTessera(["dlq", "redrive", "--component", "extract", "--all", "--json", ...url]);
    expect(JSON.parse(nothingLeft.stdout)).toEqual({ jobIds: [] });
  });
});

describe("when the coordinator cannot be reached", () => {
  it("exits 3 and says where it looked", async () => {
    const gone = server.url;
    await server.close();
    const result = await runTessera(["jobs", "list", "--url", gone]);
    expect(result.code).toBe(3);
    expect(result.stderr).toBe(`error: cannot reach the coordinator at ${gone} (ECONNREFUSED) — is \`tessera dev\` running? Point --url or TESSERA_URL at another coordinator.\n`);
    server = await startFakeAdminServer([]);
  });
});
