import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { freePort, waitFor } from "@tessera/testkit";
import { TerminalError } from "@tessera/worker";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startRealCoordinator, type RealCoordinator, type TestComponent } from "./helpers/real-coordinator.js";
import { runTessera, startTessera } from "./helpers/run-tessera.js";
import { tempFiles } from "./helpers/temp-files.js";

/*
 * Every command against the real coordinator (createCoordinator on the in-process bus and the memory store,
 * behind startAdminServer) with real workers. Starting it takes seconds, so the file shares one; each test
 * uses its own components, inputs or keys so the others' jobs do not show up in what it checks.
 */

/** `gated` jobs run until the test opens their gate (by input text), then complete or fail as told. */
const gates = new Map<
  string,
  { started: boolean; open(outcome: "complete" | "fail"): void; opened: Promise<"complete" | "fail"> }
>();
function gate(name: string): {
  started: boolean;
  open(outcome: "complete" | "fail"): void;
  opened: Promise<"complete" | "fail">;
} {
  let g = gates.get(name);
  if (g === undefined) {
    let open!: (outcome: "complete" | "fail") => void;
    const opened = new Promise<"complete" | "fail">((resolve) => (open = resolve));
    g = { started: false, open, opened };
    gates.set(name, g);
  }
  return g;
}

/** Inputs the poison components stop throwing for (so a redriven job can complete). */
const healed = new Set<string>();

const countWords = async (text: Promise<string>): Promise<{ words: number }> => {
  const words = (await text).split(/\s+/).filter(Boolean).length;
  if (words === 0) throw new TerminalError("empty_input", "nothing to count");
  return { words };
};
const tally = async (text: Promise<string>): Promise<{ ok: true }> => {
  if ((await text) === "boom") throw new TerminalError("bad_input", "boom");
  return { ok: true };
};
const poison: TestComponent["worker"] = {
  retry: { baseDelayMs: 10, maxDelayMs: 20 },
  async handle(ctx) {
    const text = await ctx.input.text();
    if (!healed.has(text)) throw new Error(`poisoned by ${text}`);
    return { healed: text };
  },
};

const COMPONENTS: TestComponent[] = [
  // Files bigger than 1000 bytes are refused at submit (the job's max_bytes).
  {
    name: "word-count",
    spec: { maxBytes: 1000 },
    worker: { concurrency: 4, handle: (ctx) => countWords(ctx.input.text()) },
  },
  {
    name: "echo",
    worker: {
      async handle(ctx) {
        return { contentType: ctx.job.content_type, base64: Buffer.from(await ctx.input.bytes()).toString("base64") };
      },
    },
  },
  { name: "tally", worker: { handle: (ctx) => tally(ctx.input.text()) } },
  { name: "counted", spec: { maturity: "hardened" }, worker: { handle: (ctx) => tally(ctx.input.text()) } },
  {
    name: "gated",
    worker: {
      concurrency: 8,
      async handle(ctx) {
        const g = gate(await ctx.input.text());
        g.started = true;
        if ((await g.opened) === "fail") throw new TerminalError("gave_up", "the test failed it");
        return { released: true };
      },
    },
  },
  // No worker: its jobs stay pending or queued until cancelled.
  { name: "idle" },
  // No worker and no jobs: how `components` shows a declared component.
  { name: "extract" },
  { name: "poison", spec: { maxDeliver: 2 }, worker: poison },
  { name: "poison-all", spec: { maxDeliver: 2 }, worker: poison },
];

let rc: RealCoordinator;
let url: string[];

beforeAll(async () => {
  rc = await startRealCoordinator(COMPONENTS);
  url = ["--url", rc.url];
}, 60_000);
afterAll(async () => {
  await rc?.close();
});

const UUID = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}";

async function submitAndWait(component: string, text: string): Promise<string> {
  const { jobId } = await rc.coordinator.submit(component, { text });
  await rc.coordinator.waitForJob(jobId, { timeoutMs: 10_000 });
  // Its dispatch is recorded a moment after its publish, and may come after its Result (decision 0046).
  await waitFor("the dispatch to be recorded", async () => ((await rc.coordinator.getJob(jobId))?.dispatches ?? 0) > 0);
  return jobId;
}

/** Submits a job to a poison component and waits until it has been dead-lettered. */
async function deadLetter(component: string, text: string): Promise<string> {
  const { jobId } = await rc.coordinator.submit(component, { text });
  expect(await rc.coordinator.waitForJob(jobId, { timeoutMs: 10_000 })).toMatchObject({
    state: "failed",
    reasonCode: "dead_lettered",
  });
  return jobId;
}

describe("tessera components", () => {
  it("tabulates state, maturity, instances, queue depth and jobs by state", async () => {
    await Promise.all(["one", "two", "boom"].map((t) => submitAndWait("counted", t)));
    const result = await runTessera(["components", ...url]);
    expect(result.code).toBe(0);
    const lines = result.stdout.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^NAME\s+STATE\s+MATURITY\s+INSTANCES\s+QUEUE\s+JOBS$/);
    expect(lines.slice(1).map((l) => l.split(/\s{2,}/)[0])).toEqual(COMPONENTS.map((c) => c.name));
    const row = (name: string): string | undefined => lines.find((l) => l.startsWith(`${name} `));
    expect(row("counted")).toMatch(/^counted\s+1 healthy instance\s+hardened\s+1\/1\s+0\/0\s+completed 2, failed 1$/);
    expect(row("extract")).toMatch(/^extract\s+declared, no healthy instance\s+experimental\s+0\/0\s+0\/0\s+none$/);
  });

  it("--json and a single component; an unknown one exits 4", async () => {
    const one = await runTessera(["components", "extract", "--json", ...url]);
    expect(JSON.parse(one.stdout)).toMatchObject({
      name: "extract",
      state: "declared",
      summary: "declared, no healthy instance",
      healthyInstances: 0,
      instances: [],
    });
    const running = await runTessera(["components", "word-count", "--json", ...url]);
    expect(JSON.parse(running.stdout)).toMatchObject({
      name: "word-count",
      state: "running",
      summary: "1 healthy instance",
      healthyInstances: 1,
    });
    const missing = await runTessera(["components", "nope", ...url]);
    expect(missing).toMatchObject({ code: 4, stderr: 'error: no component named "nope"\n' });
  });

  it("TESSERA_URL is used when --url is absent", async () => {
    const result = await runTessera(["components", "--json"], { env: { TESSERA_URL: rc.url } });
    expect(result.code).toBe(0);
    expect((JSON.parse(result.stdout) as { items: unknown[] }).items).toHaveLength(COMPONENTS.length);
  });
});

describe("tessera jobs submit", () => {
  it("sends text, metadata, idempotency key, deadline and content type", async () => {
    const result = await runTessera([
      "jobs",
      "submit",
      "word-count",
      "--text",
      "hello world",
      "--meta",
      "tenant=acme",
      "--meta",
      "lang=en",
      "--key",
      "k1",
      "--deadline",
      "5m",
      "--content-type",
      "text/plain",
      ...url,
    ]);
    expect(result).toMatchObject({
      code: 0,
      stdout: expect.stringMatching(new RegExp(`^submitted job ${UUID} to word-count \\(pending\\)\\n$`)) as unknown,
    });
    const jobId = result.stdout.split(" ")[2] as string;
    const job = await rc.coordinator.waitForJob(jobId, { timeoutMs: 10_000 });
    expect(job).toMatchObject({ state: "completed", idempotencyKey: "k1", output: { data: { words: 2 } } });
    expect(job.envelope).toMatchObject({
      metadata: { tenant: "acme", lang: "en" },
      content_type: "text/plain",
      input: { inline: "hello world" },
    });
    const deadlineIn = Date.parse(job.envelope.deadline as string) - Date.now();
    expect(deadlineIn).toBeGreaterThan(4 * 60_000);
    expect(deadlineIn).toBeLessThanOrEqual(5 * 60_000);

    const again = await runTessera([
      "jobs",
      "submit",
      "word-count",
      "--text",
      "other",
      "--idempotency-key",
      "k1",
      "--json",
      ...url,
    ]);
    expect(JSON.parse(again.stdout)).toEqual({ jobId, created: false, state: "completed" });
  });

  it("sends JSON as json and a file as its bytes in base64", async () => {
    const json = await runTessera([
      "jobs",
      "submit",
      "echo",
      "--json-input",
      '{"n":[1,2]}',
      "--wait",
      "--json",
      ...url,
    ]);
    expect(json.code).toBe(0);
    const jsonJob = JSON.parse(json.stdout) as {
      jobId: string;
      envelope: { input: unknown };
      output: { data: { base64: string } };
    };
    expect(jsonJob.envelope.input).toEqual({ inline: { n: [1, 2] } });
    expect(Buffer.from(jsonJob.output.data.base64, "base64").toString()).toBe('{"n":[1,2]}');

    const dir = await tempFiles({ "in.bin": "\u0000\u00ffbytes" });
    const file = await runTessera([
      "jobs",
      "submit",
      "echo",
      "--file",
      join(dir, "in.bin"),
      "--wait",
      "--json",
      ...url,
    ]);
    expect(file.code).toBe(0);
    const fileJob = JSON.parse(file.stdout) as {
      envelope: { input: Record<string, unknown> };
      output: { data: { base64: string } };
    };
    expect(fileJob.envelope.input).toHaveProperty("content_ref");
    // The worker read back exactly the file's bytes.
    expect(fileJob.output.data.base64).toBe((await readFile(join(dir, "in.bin"))).toString("base64"));
  });

  it("an unknown component exits 4 naming the field; input the coordinator rejects exits 2 naming the field", async () => {
    const unknown = await runTessera(["jobs", "submit", "nope", "--text", "x", ...url]);
    const known = COMPONENTS.map((c) => c.name).join(", ");
    expect(unknown).toMatchObject({
      code: 4,
      stderr: `error: unknown component "nope" (known: ${known})\n  component: expected one of the registered components (known: ${known}), got "nope"\n`,
    });

    // Metadata values are at most 512 characters in the Job envelope.
    const meta = await runTessera([
      "jobs",
      "submit",
      "word-count",
      "--text",
      "x",
      "--meta",
      `note=${"x".repeat(600)}`,
      ...url,
    ]);
    expect(meta.code).toBe(2);
    expect(meta.stderr).toMatch(
      /^error: invalid Job: metadata\.note: expected string length less or equal to 512, got string "x+…"\n$/,
    );

    const contentType = await runTessera(["jobs", "submit", "word-count", "--text", "x", "--content-type", "", ...url]);
    expect(contentType).toMatchObject({
      code: 2,
      stderr: 'error: invalid request: body.contentType: expected a string of 1 to 255 characters, got string ""\n',
    });
    expect(
      (await rc.coordinator.listJobs({ component: "word-count", limit: 500 })).items.filter(
        (j) => j.envelope.input.inline === "x",
      ),
    ).toEqual([]);
  });

  it("--wait prints the state changes and the finished job; exit 0 when completed, 1 when failed", async () => {
    const ok = await runTessera(["jobs", "submit", "word-count", "--text", "a b", "--wait", ...url]);
    expect(ok.code).toBe(0);
    const okId = /^submitted job (\S+) to word-count\n/.exec(ok.stdout)?.[1] as string;
    expect(ok.stdout).toMatch(
      new RegExp(`^submitted job ${okId} to word-count\\n[^]*${okId} {2}word-count {2}completed\\n`),
    );
    expect(ok.stdout).toMatch(/\nstate\s+completed\n/);
    expect(ok.stdout).toMatch(/\noutput\s+\{"words":2\}\n/);

    const failed = await runTessera(["jobs", "submit", "word-count", "--text", "  ", "--wait", "--json", ...url]);
    expect(failed.code).toBe(1);
    const job = JSON.parse(failed.stdout) as { jobId: string };
    expect(job).toMatchObject({
      state: "failed",
      reasonCode: "empty_input",
      reasonDetail: "nothing to count",
      attempts: 1,
    });
    expect(failed.stderr).toContain(`${job.jobId}  word-count  failed  empty_input`);
  });

  it("bulk: one job per file from a directory, a summary table, per-file keys, --wait with an exit 1 when one fails", async () => {
    const dir = await tempFiles({ "a.txt": "a", "b.txt": "   ", "c.txt": "c", ".hidden": "h" });
    const result = await runTessera([
      "jobs",
      "submit",
      "word-count",
      "--files",
      dir,
      "--key",
      "batch",
      "--wait",
      ...url,
    ]);
    expect(result.code).toBe(1);
    const keys = (await rc.coordinator.listJobs({ component: "word-count", limit: 500 })).items.flatMap((j) =>
      j.idempotencyKey?.startsWith("batch:") === true ? [j.idempotencyKey] : [],
    );
    expect(keys.sort()).toEqual(["a.txt", "b.txt", "c.txt"].map((f) => `batch:${join(dir, f)}`));
    expect(result.stderr).toContain("submitted 3 of 3 files to word-count\n");
    expect(result.stderr).toContain("all 3 jobs finished\n");
    const rows = result.stdout.trimEnd().split("\n");
    expect(rows[0]).toMatch(/^FILE\s+JOB\s+STATE\s+NOTE$/);
    expect(rows.slice(1).map((r) => r.split(/\s+/).slice(2))).toEqual(
      expect.arrayContaining([["completed"], ["completed"], ["failed", "empty_input"]]),
    );
    expect(rows.find((r) => r.startsWith(join(dir, "b.txt")))).toMatch(/\s+failed\s+empty_input$/);
  });

  it("bulk --json records a rejected file, carries on, and exits 1", async () => {
    const dir = await tempFiles({ "a.txt": "a", "b.txt": "b".repeat(2000) });
    const result = await runTessera([
      "jobs",
      "submit",
      "word-count",
      "--file",
      join(dir, "a.txt"),
      "--file",
      join(dir, "b.txt"),
      "--json",
      ...url,
    ]);
    expect(result.code).toBe(1);
    expect(JSON.parse(result.stdout)).toEqual({
      component: "word-count",
      items: [
        {
          file: join(dir, "a.txt"),
          jobId: expect.stringMatching(new RegExp(`^${UUID}$`)) as unknown,
          created: true,
          state: "pending",
        },
        { file: join(dir, "b.txt"), error: "input: expected at most 1000 bytes (the job's max_bytes), got 2000 bytes" },
      ],
    });
    expect(result.stderr).toBe("submitted 1 of 2 files to word-count (1 rejected)\n");
  });
});

describe("tessera jobs get / list / cancel", () => {
  /** Five finished `tally` jobs, oldest first; the third failed. */
  let ids: string[];
  beforeAll(async () => {
    ids = [];
    for (const text of ["t1", "t2", "boom", "t4", "t5"]) ids.push(await submitAndWait("tally", text));
  });

  it("get shows the job; --json gives the record; an unknown id exits 4", async () => {
    const id = ids[2] as string;
    const human = await runTessera(["jobs", "get", id, ...url]);
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(
      new RegExp(
        `^job\\s+${id}\\ncomponent\\s+tally\\nstate\\s+failed \\(bad_input: boom\\)\\nattempts\\s+1 \\(dispatched 1×, redriven 0×\\)\\n`,
      ),
    );
    const json = await runTessera(["jobs", "get", id, "--json", ...url]);
    expect(JSON.parse(json.stdout)).toMatchObject({
      jobId: id,
      component: "tally",
      state: "failed",
      reasonCode: "bad_input",
      attempts: 1,
    });
    expect(await runTessera(["jobs", "get", "job-9", ...url])).toMatchObject({
      code: 4,
      stderr: 'error: no job "job-9"\n',
    });
  });

  it("list tabulates id, component, state, attempts, reason, age and applies the filters", async () => {
    const result = await runTessera(["jobs", "list", "--state", "failed", "--component", "tally", ...url]);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(
      new RegExp(
        `^ID\\s+COMPONENT\\s+STATE\\s+ATTEMPTS\\s+REASON\\s+AGE\\n${ids[2]}\\s+tally\\s+failed\\s+1\\s+bad_input: boom\\s+\\d+s\\n$`,
      ),
    );

    const json = await runTessera(["jobs", "list", "--state", "failed", "--json", ...url]);
    expect(json.code).toBe(0);
    const page = JSON.parse(json.stdout) as { items: { jobId: string; state: string }[]; nextCursor: string | null };
    expect(page.items.length).toBeGreaterThan(0);
    expect(page.items.every((j) => j.state === "failed")).toBe(true);
    expect(page.items.map((j) => j.jobId)).toContain(ids[2]);
    expect(page.nextCursor).toBeNull();
  });

  it("list pages with --limit and --cursor, and --all follows every page", async () => {
    const first = await runTessera(["jobs", "list", "--component", "tally", "--limit", "2", ...url]);
    const lines = first.stdout.trimEnd().split("\n");
    expect(lines).toHaveLength(3);
    expect(lines.slice(1).map((l) => l.split(/\s+/)[0])).toEqual([ids[4], ids[3]]);
    const cursor = /^more jobs: add --cursor (\S+) \(or --all\)\n$/.exec(first.stderr)?.[1];
    expect(cursor).toBeDefined();
    const second = await runTessera([
      "jobs",
      "list",
      "--component",
      "tally",
      "--limit",
      "2",
      "--cursor",
      cursor as string,
      "--json",
      ...url,
    ]);
    expect((JSON.parse(second.stdout) as { items: { jobId: string }[] }).items.map((j) => j.jobId)).toEqual([
      ids[2],
      ids[1],
    ]);

    const all = await runTessera(["jobs", "list", "--component", "tally", "--limit", "2", "--all", "--json", ...url]);
    const page = JSON.parse(all.stdout) as { items: { jobId: string }[]; nextCursor: string | null };
    expect(page.items.map((j) => j.jobId)).toEqual([...ids].reverse());
    expect(page.nextCursor).toBeNull();
  });

  it("cancel cancels a job that has not run; a finished one exits 5", async () => {
    const { jobId } = await rc.coordinator.submit("idle", { text: "never runs" });
    expect(await runTessera(["jobs", "cancel", jobId, ...url])).toMatchObject({
      code: 0,
      stdout: `cancelled job ${jobId} (idle)\n`,
    });
    expect(await rc.coordinator.getJob(jobId)).toMatchObject({ state: "cancelled" });
    const again = await runTessera(["jobs", "cancel", jobId, ...url]);
    expect(again).toMatchObject({
      code: 5,
      stderr: expect.stringContaining(`job "${jobId}" is already cancelled`) as unknown,
    });
    const completed = await runTessera(["jobs", "cancel", ids[0] as string, ...url]);
    expect(completed).toMatchObject({
      code: 5,
      stderr: `error: job "${ids[0]}" is already completed; only pending or queued jobs can be cancelled\n`,
    });
    expect(await runTessera(["jobs", "cancel", "job-9", ...url])).toMatchObject({ code: 4 });
  });
});

describe("tessera jobs watch", () => {
  const running = async (text: string): Promise<string> => {
    const { jobId } = await rc.coordinator.submit("gated", { text });
    await waitFor(
      `the gated job ${text} to run`,
      async () => gate(text).started && (await rc.coordinator.getJob(jobId))?.state === "queued",
      10_000,
    );
    return jobId;
  };
  const withoutTime = (stdout: string): string[] =>
    stdout
      .trimEnd()
      .split("\n")
      .map((l) => l.replace(/^\S+ {2}/, ""));

  it("with ids: one line per change with a done count; exit 1 when one failed", async () => {
    const a = await running("watch-a");
    const b = await running("watch-b");
    const c = await submitAndWait("word-count", "c");
    await waitFor("earlier event streams to be closed", () => rc.subscribers() === 0);
    const watching = startTessera(["jobs", "watch", a, b, c, ...url]);
    await waitFor("the watch to read the current states", () => watching.stdout().split("\n").length === 4);
    expect(rc.subscribers()).toBe(1);
    gate("watch-a").open("complete");
    await waitFor("the watch to see a complete", () => watching.stdout().split("\n").length === 5);
    gate("watch-b").open("fail");
    const result = await watching.result;
    expect(result.code).toBe(1);
    expect(withoutTime(result.stdout)).toEqual([
      `${a}  gated  queued  (0/3 done)`,
      `${b}  gated  queued  (0/3 done)`,
      `${c}  word-count  completed  (1/3 done)`,
      `${a}  gated  completed  (2/3 done)`,
      `${b}  gated  failed  gave_up  (3/3 done)`,
    ]);
    await waitFor("the watch to close its event stream", () => rc.subscribers() === 0);
  });

  it("one id: follows it until it finishes; exit 0 when completed", async () => {
    const id = await running("watch-one");
    const watching = startTessera(["jobs", "watch", id, "--json", ...url]);
    await waitFor("the watch to read the current state", () => watching.stdout() !== "");
    gate("watch-one").open("complete");
    const result = await watching.result;
    expect(result.code).toBe(0);
    const events = result.stdout
      .trimEnd()
      .split("\n")
      .map((l) => JSON.parse(l) as unknown);
    expect(events).toEqual([
      expect.objectContaining({ jobId: id, component: "gated", state: "queued" }),
      expect.objectContaining({ jobId: id, state: "completed", reasonCode: null }),
    ]);
    await waitFor("the watch to close its event stream", () => rc.subscribers() === 0);
  });

  it("returns at once when every job has already finished; --json prints one event per line", async () => {
    const id = await submitAndWait("word-count", "x");
    const result = await runTessera(["jobs", "watch", id, "--json", ...url]);
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ jobId: id, component: "word-count", state: "completed" });
  });

  it("an unknown id exits 4", async () => {
    expect(await runTessera(["jobs", "watch", "job-zz", ...url])).toMatchObject({
      code: 4,
      stderr: 'error: no job "job-zz"\n',
    });
  });
});

describe("tessera dlq", () => {
  it("list tabulates dead letters", async () => {
    const id = await deadLetter("poison", "listed");
    const result = await runTessera(["dlq", "list", "--component", "poison", ...url]);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(
      new RegExp(
        `^JOB\\s+COMPONENT\\s+DELIVERIES\\s+REASON\\s+AGE\\s+REDRIVEN\\n${id}\\s+poison\\s+2\\s+dead_lettered: exhausted 2 deliveries without a Result\\s+\\d+s\\n$`,
      ),
    );
    const json = await runTessera(["dlq", "list", "--json", ...url]);
    expect(JSON.parse(json.stdout)).toMatchObject({
      items: expect.arrayContaining([
        expect.objectContaining({ jobId: id, component: "poison", deliveries: 2, redrivenAt: null }),
      ]) as unknown,
      nextCursor: null,
    });
  });

  it("redrive one job and it completes; a job that is not dead-lettered exits 5, an unknown one 4", async () => {
    const id = await deadLetter("poison", "redriven");
    healed.add("redriven");
    expect(await runTessera(["dlq", "redrive", id, ...url])).toMatchObject({
      code: 0,
      stdout: `redrove job ${id} (poison): now pending\n`,
    });
    const watched = await runTessera(["jobs", "watch", id, ...url]);
    expect(watched.code).toBe(0);
    expect(await rc.coordinator.getJob(id)).toMatchObject({
      state: "completed",
      redrives: 1,
      output: { data: { healed: "redriven" } },
    });
    expect(await runTessera(["dlq", "redrive", id, ...url])).toMatchObject({
      code: 5,
      stderr: `error: job "${id}" is completed; only dead-lettered failed jobs can be redriven\n`,
    });
    expect(await runTessera(["dlq", "redrive", "job-9", ...url])).toMatchObject({ code: 4 });
    const listed = await runTessera(["dlq", "list", "--component", "poison", "--json", ...url]);
    expect(
      (JSON.parse(listed.stdout) as { items: { jobId: string; redrivenAt: string | null }[] }).items.find(
        (d) => d.jobId === id,
      )?.redrivenAt,
    ).not.toBeNull();
  });

  it("redrive --all refuses without a terminal or --yes, asks on a terminal, and runs with --yes", async () => {
    const dead = [await deadLetter("poison-all", "all-1"), await deadLetter("poison-all", "all-2")];
    const waiting = async (): Promise<number> =>
      (await rc.coordinator.listDeadLetters({ component: "poison-all" })).items.filter((d) => d.redrivenAt === null)
        .length;

    const refused = await runTessera(["dlq", "redrive", "--component", "poison-all", "--all", ...url]);
    expect(refused).toMatchObject({
      code: 2,
      stderr: expect.stringContaining(
        "refusing to redrive 2 jobs of poison-all without confirmation (stdin is not a terminal); add --yes",
      ) as unknown,
    });
    expect(await waiting()).toBe(2);

    const declined = await runTessera(["dlq", "redrive", "--component", "poison-all", "--all", ...url], {
      answer: "n",
    });
    expect(declined).toMatchObject({
      code: 1,
      stderr: expect.stringContaining("Redrive 2 dead-lettered jobs of poison-all?") as unknown,
    });
    expect(await waiting()).toBe(2);

    healed.add("all-1");
    healed.add("all-2");
    const confirmed = await runTessera(["dlq", "redrive", "--component", "poison-all", "--all", ...url], {
      answer: "y",
    });
    expect(confirmed.code).toBe(0);
    const lines = confirmed.stdout.trimEnd().split("\n");
    expect(lines[0]).toBe("redrove 2 jobs of poison-all:");
    expect(
      lines
        .slice(1)
        .map((l) => l.trim())
        .sort(),
    ).toEqual([...dead].sort());
    for (const id of dead)
      expect(await rc.coordinator.waitForJob(id, { timeoutMs: 10_000 })).toMatchObject({
        state: "completed",
        redrives: 1,
      });

    const nothingLeft = await runTessera(["dlq", "redrive", "--component", "poison-all", "--all", "--json", ...url]);
    expect(JSON.parse(nothingLeft.stdout)).toEqual({ jobIds: [] });

    // --yes: no question, even without a terminal.
    const third = await deadLetter("poison-all", "all-3");
    healed.add("all-3");
    expect(await runTessera(["dlq", "redrive", "--component", "poison-all", "--all", "--yes", ...url])).toMatchObject({
      code: 0,
      stdout: `redrove 1 jobs of poison-all:\n  ${third}\n`,
    });
    expect(await rc.coordinator.waitForJob(third, { timeoutMs: 10_000 })).toMatchObject({ state: "completed" });
    expect(await runTessera(["dlq", "redrive", "--component", "nope", "--all", "--yes", ...url])).toMatchObject({
      code: 4,
    });
  });
});

describe("when the coordinator cannot be reached", () => {
  it("exits 3 and says where it looked", async () => {
    const gone = `http://127.0.0.1:${await freePort()}`;
    const result = await runTessera(["jobs", "list", "--url", gone]);
    expect(result.code).toBe(3);
    expect(result.stderr).toBe(
      `error: cannot reach the coordinator at ${gone} (ECONNREFUSED) — is \`tessera dev\` running? Point --url or TESSERA_URL at another coordinator.\n`,
    );
  });
});
