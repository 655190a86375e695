import { execFileSync } from "node:child_process";
import { truncate, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MAX_SUBMIT_FILE_BYTES } from "../src/admin-client.js";
import { loadComponentManifests, manifestExitCode } from "../src/manifests/load-component-manifests.js";
import { loadProject } from "../src/project/load-project.js";
import { startRealCoordinator, type RealCoordinator } from "./helpers/real-coordinator.js";
import { runTessera } from "./helpers/run-tessera.js";
import { tempFiles } from "./helpers/temp-files.js";

/*
 * What was tried against the CLI (issue 16): a device or a FIFO given to --file, a file over the request
 * limit, a 413 from the coordinator, and YAML alias bombs given to validate, render and dev.
 */

let rc: RealCoordinator;
beforeAll(async () => {
  rc = await startRealCoordinator([{ name: "idle" }, { name: "bulk-idle" }]);
});
afterAll(() => rc.close());

/** Nothing listens there: a command that fails with a usage error before any request never notices. */
const NOWHERE = ["--url", "http://127.0.0.1:9"];

async function jobsOf(component: string): Promise<number> {
  return (await rc.coordinator.listJobs({ component, limit: 500 })).items.length;
}

describe("jobs submit --file refuses what it cannot send, before reading it", () => {
  it(
    "a character device such as /dev/zero (regression: read without bound, 8.2 GB RSS)",
    { timeout: 5_000 },
    async () => {
      const res = await runTessera(["jobs", "submit", "idle", "--file", "/dev/zero", ...NOWHERE]);
      expect(res).toEqual({
        code: 2,
        stdout: "",
        stderr: 'error: --file: cannot read "/dev/zero": a character device, not a regular file\n',
      });
    },
  );

  it("a FIFO, without waiting for a writer", { timeout: 5_000 }, async () => {
    const dir = await tempFiles({});
    const fifo = join(dir, "pipe");
    execFileSync("mkfifo", [fifo]);
    const res = await runTessera(["jobs", "submit", "idle", "--file", fifo, ...NOWHERE]);
    expect(res.code).toBe(2);
    expect(res.stderr).toBe(
      `error: --file: cannot read ${JSON.stringify(fifo)}: a FIFO (named pipe), not a regular file\n`,
    );
  });

  it("a directory, pointing at --files", async () => {
    const dir = await tempFiles({});
    const res = await runTessera(["jobs", "submit", "idle", "--file", dir, ...NOWHERE]);
    expect(res.code).toBe(2);
    expect(res.stderr).toContain("a directory, not a regular file (use --files for every file in it)");
  });

  it("a file over the limit: too large (limit …), exit 1, and nothing sent", async () => {
    const dir = await tempFiles({});
    const big = join(dir, "big.bin");
    await writeFile(big, "");
    await truncate(big, MAX_SUBMIT_FILE_BYTES + 1);
    const before = await jobsOf("idle");
    const res = await runTessera(["jobs", "submit", "idle", "--file", big, "--url", rc.url]);
    expect(res.code).toBe(1);
    expect(res.stderr).toBe(
      `error: --file: ${JSON.stringify(big)} is too large (limit 16 MiB per request, so 12 MiB (${MAX_SUBMIT_FILE_BYTES} bytes) per file, which travels base64-encoded): ${MAX_SUBMIT_FILE_BYTES + 1} bytes\n`,
    );
    expect(await jobsOf("idle")).toBe(before);
  });

  it("takes a file of exactly the limit: it fits in the coordinator's 16 MiB request", async () => {
    const dir = await tempFiles({});
    const file = join(dir, "limit.bin");
    await writeFile(file, "");
    await truncate(file, MAX_SUBMIT_FILE_BYTES);
    const res = await runTessera([
      "jobs",
      "submit",
      "idle",
      "--file",
      file,
      "--meta",
      `note=${"m".repeat(500)}`,
      "--url",
      rc.url,
    ]);
    expect(res.stderr).toBe("");
    expect(res.code).toBe(0);
  });

  it(
    "with --files, records a FIFO or an oversized file as rejected and submits the rest",
    { timeout: 10_000 },
    async () => {
      const dir = await tempFiles({ "a.txt": "alpha" });
      execFileSync("mkfifo", [join(dir, "b.pipe")]);
      await writeFile(join(dir, "c.bin"), "");
      await truncate(join(dir, "c.bin"), MAX_SUBMIT_FILE_BYTES + 1);
      const res = await runTessera(["jobs", "submit", "bulk-idle", "--files", dir, "--json", "--url", rc.url]);
      expect(res.code).toBe(1);
      const { items } = JSON.parse(res.stdout) as { items: { file: string; jobId?: string; error?: string }[] };
      expect(items.map((i) => [i.file.slice(dir.length + 1), i.jobId === undefined ? i.error : "submitted"])).toEqual([
        ["a.txt", "submitted"],
        ["b.pipe", expect.stringContaining("a FIFO (named pipe), not a regular file")],
        ["c.bin", expect.stringContaining("is too large (limit 16 MiB per request")],
      ]);
    },
  );
});

describe("a 413 from the coordinator", () => {
  it("is reported as too large (limit …) with the coordinator's words, exit 1", async () => {
    const res = await runTessera(["jobs", "submit", "idle", "--text", "x".repeat(17 * 1024 * 1024), "--url", rc.url]);
    expect(res.code).toBe(1);
    expect(res.stderr).toBe(
      `error: POST /api/v1/jobs: too large (limit 16 MiB per request, so 12 MiB (${MAX_SUBMIT_FILE_BYTES} bytes) per file, which travels base64-encoded); the coordinator said: the request body is larger than the 16 MiB limit\n`,
    );
  });

  it("from a proxy in front (HTML, connection closed at once) is too large too, not unreachable", async () => {
    const proxy: Server = createServer((request, response) => {
      response.writeHead(413, { "content-type": "text/html", connection: "close" });
      response.end("<html><body>413 Request Entity Too Large</body></html>");
      request.socket.destroy();
    });
    await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", resolve));
    try {
      const url = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
      const res = await runTessera(["jobs", "submit", "idle", "--text", "x".repeat(4 * 1024 * 1024), "--url", url]);
      expect(res.code).toBe(1);
      expect(res.stderr).toMatch(/^error: POST \/api\/v1\/jobs: too large \(limit 16 MiB per request/);
    } finally {
      await new Promise((resolve) => proxy.close(resolve));
    }
  });
});

/** Nine levels of nine aliases: 9^9 (387 million) strings once expanded. */
const BILLION_LAUGHS = `apiVersion: tessera.dev/v1alpha1
kind: Component
metadata:
  name: lol
  a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]
  b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]
  c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]
  d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]
  e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]
  f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]
  g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]
  h: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g]
  i: &i [*h, *h, *h, *h, *h, *h, *h, *h, *h]
spec:
  image: x:1
`;

describe("YAML that does not parse is a one-line error naming the file, exit 2", () => {
  it("validate: an alias bomb (regression: an uncaught stack trace)", async () => {
    const dir = await tempFiles({ "bomb.yaml": BILLION_LAUGHS });
    const file = join(dir, "bomb.yaml");
    const res = await runTessera(["validate", file]);
    expect(res.code).toBe(2);
    expect(res.stderr).toBe("");
    const [problem, ...rest] = res.stdout.split("\n");
    expect(problem).toBe(
      `${file}:1: (yaml): expected valid YAML or JSON, got its aliases expand too far (over maxAliasCount 100): an alias bomb such as "billion laughs"`,
    );
    expect(rest).toEqual(["1 problem in 1 file; 0 valid components", ""]);
  });

  it("validate: a syntax error, and a device given as a manifest", async () => {
    const dir = await tempFiles({ "broken.yaml": "apiVersion: [unclosed\n" });
    const broken = await runTessera(["validate", join(dir, "broken.yaml")]);
    expect(broken.code).toBe(2);
    expect(broken.stdout).toMatch(/^\S+broken\.yaml:\d+: \(yaml\): expected valid YAML or JSON, got a syntax error: /);
    const device = await runTessera(["validate", "/dev/zero"]);
    expect(device).toMatchObject({ code: 2, stderr: "" });
    expect(device.stdout).toContain("/dev/zero: expected a readable YAML or JSON file, got a character device\n");
  });

  it("render: an alias bomb", async () => {
    const dir = await tempFiles({ "bomb.yaml": BILLION_LAUGHS });
    const res = await runTessera(["render", join(dir, "bomb.yaml")]);
    expect(res.code).toBe(2);
    expect(res.stderr.trimEnd().split("\n")).toEqual([
      `${join(dir, "bomb.yaml")}:1: (yaml): expected valid YAML or JSON, got its aliases expand too far (over maxAliasCount 100): an alias bomb such as "billion laughs"`,
    ]);
  });

  it("dev (a project's manifests): an alias bomb", async () => {
    const dir = await tempFiles({
      "bomb.yaml": BILLION_LAUGHS,
      "component.mjs": "export default {};\n",
      "project.mjs": `export default { name: "p", components: [{ manifest: "bomb.yaml", module: "component.mjs" }] };\n`,
    });
    await expect(loadProject(join(dir, "project.mjs"))).rejects.toMatchObject({
      exitCode: 2,
      details: [
        expect.stringMatching(/bomb\.yaml:1: \(yaml\): expected valid YAML or JSON, got its aliases expand too far/),
      ],
    });
  });

  it("the loader keeps checking the other files, and says which problems are usage errors", async () => {
    const dir = await tempFiles({
      "bomb.yaml": BILLION_LAUGHS,
      "ok.yaml": BILLION_LAUGHS.replace(/^ {2}[a-i]: .*\n/gm, "").replace("name: lol", "name: ok"),
    });
    const { manifests, problems } = await loadComponentManifests([join(dir, "bomb.yaml"), join(dir, "ok.yaml")]);
    expect(manifests.map((m) => m.name)).toEqual(["ok"]);
    expect(problems.map((p) => p.kind)).toEqual(["syntax"]);
    expect(manifestExitCode(problems)).toBe(2);
    expect(manifestExitCode([{ ...problems[0]!, kind: "content" }])).toBe(1);
    expect(manifestExitCode([])).toBe(0);
  });
});
