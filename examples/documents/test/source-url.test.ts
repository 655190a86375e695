/**
 * `tessera jobs submit extract --source-url <url>` against `tessera dev examples/documents`, both real processes:
 * the coordinator fetches the document from a server on 127.0.0.1 that this test allows explicitly (its address and
 * port in TESSERA_FETCH_ALLOW, nothing else), and extract reads it by reference, with no egress of its own.
 */
import { execFile } from "node:child_process";
import { createServer, type Server } from "node:http";
import { fileURLToPath } from "node:url";
import { freePort, spawnTsProcess, waitFor, type TsProcess } from "@tessera/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadSamples } from "../src/samples.js";

const repo = fileURLToPath(new URL("../../../", import.meta.url));
const documents = fileURLToPath(new URL("../", import.meta.url));
const tessera = fileURLToPath(new URL("../../../packages/cli/src/main.ts", import.meta.url));

let docs: Server;
let origin: string;
let dev: TsProcess;
let adminUrl: string;

beforeAll(async () => {
  const samples = new Map(loadSamples(new URL("../samples/", import.meta.url)).map((s) => [`/${s.label}`, s]));
  docs = createServer((req, res) => {
    const sample = samples.get(req.url ?? "");
    if (req.url === "/moved") res.writeHead(302, { location: "http://10.0.0.1/internal.html" }).end();
    else if (sample === undefined) res.writeHead(404).end();
    // Markdown is served the way many servers do, as plain text: the submitter says what it is.
    else
      res
        .writeHead(200, { "content-type": sample.contentType.replace("text/markdown", "text/plain") })
        .end(sample.bytes);
  });
  await new Promise<void>((resolve) => docs.listen(0, "127.0.0.1", resolve));
  const { port } = docs.address() as { port: number };
  origin = `http://127.0.0.1:${port}`;
  const adminPort = await freePort();
  adminUrl = `http://127.0.0.1:${adminPort}`;
  dev = spawnTsProcess(tessera, {
    cwd: repo,
    args: ["dev", documents, "--port", String(adminPort)],
    env: {
      LOG_LEVEL: "warn",
      TESSERA_FETCH_ALLOW: JSON.stringify({ cidrs: ["127.0.0.1/32"], ports: [{ port }] }),
    },
  });
  // Loading the project and its converters (pdf.js) takes a while on a busy machine.
  await waitFor(
    "tessera dev to be ready",
    () => {
      if (dev.proc.exitCode !== null) throw new Error(`tessera dev exited:\n${dev.output()}`);
      return dev.output().includes("Ctrl-C to stop.") || undefined;
    },
    80_000,
  );
}, 90_000);

afterAll(async () => {
  await dev?.kill();
  await new Promise((resolve) => docs?.close(resolve));
});

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** `tessera jobs submit ... --wait --json`, run from the CLI's source in a process of its own. */
function submit(...args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [
        "--conditions=@tessera/source",
        "--import",
        "tsx",
        tessera,
        "jobs",
        "submit",
        ...args,
        "--url",
        adminUrl,
        "--wait",
        "--json",
      ],
      { cwd: repo },
      (err, stdout, stderr) =>
        resolve({ code: err === null ? 0 : typeof err.code === "number" ? err.code : -1, stdout, stderr }),
    );
  });
}

interface JobJson {
  jobId: string;
  state: string;
  reasonCode: string | null;
  reasonDetail: string | null;
  envelope: { content_type: string; input: Record<string, unknown> };
  output: { data?: { format: string; title?: string; text: string } } | null;
}

/** The same submit through the admin API, for the cases that need no new CLI process: its decided job. */
async function submitOverApi(body: object): Promise<JobJson> {
  const res = await fetch(`${adminUrl}/api/v1/jobs`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ component: "extract", ...body }),
  });
  expect(res.status).toBe(201);
  const { jobId } = (await res.json()) as { jobId: string };
  return waitFor(
    `job ${jobId} to be decided`,
    async () => {
      const job = (await (await fetch(`${adminUrl}/api/v1/jobs/${jobId}`)).json()) as JobJson;
      return job.state === "pending" || job.state === "queued" ? undefined : job;
    },
    30_000,
  );
}

// Each CLI run is a Node process loading the CLI from source: seconds, more on a busy machine.
describe("extract --source-url", { timeout: 90_000 }, () => {
  it("tessera jobs submit extract --source-url: fetched by the coordinator, extracted by reference, typed as served", async () => {
    const run = await submit("extract", "--source-url", `${origin}/release-notes.html`);
    expect(run.code, run.stderr).toBe(0);
    const job = JSON.parse(run.stdout) as JobJson;
    expect(job).toMatchObject({ state: "completed", envelope: { input: { source_locator: {} } } });
    expect(job.output?.data).toMatchObject({ format: "html", title: "Release notes: Tessera 0.1" });
  });

  it("tessera jobs submit chunk-embed --source-url is refused (exit 2): its egress is none", async () => {
    const run = await submit("chunk-embed", "--source-url", `${origin}/welcome.txt`);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/input\.source_locator: expected a component whose egress is fetch-controlled/);
    expect(run.stderr).toMatch(/chunk-embed, whose egress is none/);
  });

  it("takes the submitter's content type over the server's", async () => {
    const job = await submitOverApi({
      input: { source_locator: { source_url: `${origin}/field-guide.md` } },
      contentType: "text/markdown; charset=utf-8",
    });
    expect(job.output?.data).toMatchObject({ format: "markdown", title: "A field guide to chunking" });
  });

  it("fails the job with egress_denied when the document redirects to a private address", async () => {
    const job = await submitOverApi({ input: { source_locator: { source_url: `${origin}/moved` } } });
    expect(job).toMatchObject({ state: "failed", reasonCode: "egress_denied" });
    expect(job.reasonDetail).toMatch(/10\.0\.0\.1 port 80 is a private address/);
  });

  it("fails the job with fetch_http_404 for a missing document", async () => {
    const job = await submitOverApi({ input: { source_locator: { source_url: `${origin}/nothing-here.pdf` } } });
    expect(job).toMatchObject({ state: "failed", reasonCode: "fetch_http_404" });
  });
});
