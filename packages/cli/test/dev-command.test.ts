import { readdirSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { freePort } from "@tessera/testkit";
import { describe, expect, it } from "vitest";
import { runTessera, type RunResult } from "./helpers/run-tessera.js";
import { tempFiles } from "./helpers/temp-files.js";

const DOCUMENTS = resolve(dirname(fileURLToPath(import.meta.url)), "../../../examples/documents");
/** The samples the documents project submits: every file in samples/, by name. */
const SAMPLES = readdirSync(join(DOCUMENTS, "samples"), { withFileTypes: true })
  .filter((e) => e.isFile() && !e.name.startsWith("."))
  .map((e) => e.name)
  .sort();
/** The one sample extract cannot handle (no image support); the project expects it to fail. */
const FAILING_SAMPLE = "scan.png";

// LOG_LEVEL only keeps the coordinator's and the workers' logs out of the test output.
const ENV = { LOG_LEVEL: "silent" };

interface JsonReport {
  mode: "embedded" | "process";
  dashboard: string;
  adminUrl: string;
  jobs: number;
  elapsedMs: number;
  jobsPerSecond: number;
  samples: {
    label: string;
    asExpected: boolean;
    jobs: {
      depth: number;
      jobId: string;
      component: string;
      state: string;
      reasonCode: string | null;
      output: { data?: unknown } | null;
    }[];
  }[];
}

function reportOf(result: RunResult): JsonReport {
  expect(result.stderr).toBe("");
  return JSON.parse(result.stdout) as JsonReport;
}

/** Every sample ended as the documents project expects, each extract chaining one completed chunk-embed job. */
function expectDocumentsOutcome(report: JsonReport, repeat = 1): void {
  expect(report.samples.map((s) => s.label).sort()).toEqual(
    SAMPLES.flatMap((label) => Array<string>(repeat).fill(label)).sort(),
  );
  for (const sample of report.samples) {
    expect(sample.asExpected, `${sample.label} ended as expected`).toBe(true);
    if (sample.label === FAILING_SAMPLE) {
      expect(sample.jobs).toEqual([
        expect.objectContaining({
          depth: 0,
          component: "extract",
          state: "failed",
          reasonCode: "unsupported_content_type",
        }),
      ]);
    } else {
      expect(sample.jobs, sample.label).toEqual([
        expect.objectContaining({ depth: 0, component: "extract", state: "completed", reasonCode: null }),
        expect.objectContaining({ depth: 1, component: "chunk-embed", state: "completed", reasonCode: null }),
      ]);
    }
  }
  const listed = report.samples.flatMap((s) => s.jobs);
  expect(report.jobs).toBe(listed.length);
  expect(new Set(listed.map((j) => j.jobId)).size).toBe(listed.length);
  expect(report.jobs).toBe(repeat * (2 * (SAMPLES.length - 1) + 1));
}

// Each run starts a coordinator (PGlite), the components and their handler threads; allow for a loaded machine.
const RUN_TIMEOUT_MS = 90_000;

describe("tessera dev, embedded", { timeout: RUN_TIMEOUT_MS }, () => {
  it("--samples --exit --json runs every sample with its chained job and exits 0", async () => {
    const result = await runTessera(["dev", DOCUMENTS, "--samples", "--exit", "--port", "0", "--json"], { env: ENV });
    expect(result.code).toBe(0);
    const report = reportOf(result);
    expect(report.mode).toBe("embedded");
    expect(report.dashboard).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    expect(report.dashboard).toBe(`${report.adminUrl}/`);
    expectDocumentsOutcome(report);
    const extracted = report.samples.find((s) => s.label === "welcome.txt")?.jobs[0]?.output?.data;
    expect(extracted).toMatchObject({ format: "text", characters: expect.any(Number) as unknown });
  });

  it("--repeat 3 submits every sample three times", async () => {
    const result = await runTessera(
      ["dev", DOCUMENTS, "--samples", "--repeat", "3", "--exit", "--port", "0", "--json"],
      { env: ENV },
    );
    expect(result.code).toBe(0);
    expectDocumentsOutcome(reportOf(result), 3);
  });

  it("without --json prints the banner with the admin URL and the results table", async () => {
    const result = await runTessera(["dev", DOCUMENTS, "--samples", "--exit", "--port", "0"], { env: ENV });
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^tessera dev documents \(/);
    expect(result.stdout).toContain("\n  environment local (TESSERA_ENV unset): no guard rails\n");
    expect(result.stdout).toMatch(
      /\n {2}admin API {3}http:\/\/127\.0\.0\.1:\d+ {2}\(OpenAPI at http:\/\/127\.0\.0\.1:\d+\/openapi\.json\)\n/,
    );
    const admin = /admin API {3}(http:\/\/127\.0\.0\.1:\d+)/.exec(result.stdout)?.[1];
    expect(result.stdout).toContain(`\n  dashboard   ${admin}/`);
    expect(result.stdout).toMatch(/\n {2}components {2}extract, chunk-embed\n/);
    expect(result.stdout).toMatch(/\nSAMPLE\s+COMPONENT\s+STATE\s+RESULT\s+TOOK\n/);
    for (const label of SAMPLES)
      expect(result.stdout).toMatch(new RegExp(`\\n${label.replace(".", "\\.")}\\s+extract\\s+(completed|failed)`));
    expect(result.stdout).toMatch(/\nscan\.png\s+extract\s+failed\s+unsupported_content_type/);
    expect(result.stdout.match(/└─ chained\s+chunk-embed\s+completed/g)).toHaveLength(SAMPLES.length - 1);
    expect(result.stdout).toMatch(new RegExp(`\\n${2 * (SAMPLES.length - 1) + 1} jobs decided in `));
  });
});

describe("tessera dev usage and start errors", () => {
  it("in production refuses to keep jobs in memory, exit 2, saying why", async () => {
    const result = await runTessera(["dev", DOCUMENTS, "--port", "0"], { env: { ...ENV, TESSERA_ENV: "production" } });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(
      /^error: refusing to start in production \(TESSERA_ENV\):\n {2}\[durable_store\] jobs are kept in memory/,
    );
  });

  it("--exit without --samples exits 2", async () => {
    expect(await runTessera(["dev", DOCUMENTS, "--exit"], { env: ENV })).toMatchObject({
      code: 2,
      stderr: "error: --exit, --repeat and --json need --samples\n",
    });
  });

  it("--port 99999 exits 2", async () => {
    expect(await runTessera(["dev", DOCUMENTS, "--port", "99999"], { env: ENV })).toMatchObject({
      code: 2,
      stderr: 'error: --port: expected a port number from 0 to 65535, got "99999"\n',
    });
  });

  it("a directory without tessera.project.ts exits 2 naming the file", async () => {
    const dir = await tempFiles({ "readme.txt": "not a project" });
    const result = await runTessera(["dev", dir, "--samples", "--exit", "--port", "0"], { env: ENV });
    expect(result.code).toBe(2);
    expect(result.stderr).toBe(
      `error: no tessera.project.ts in ${dir}\n  a project directory holds a tessera.project.ts whose default export is defineProject({...}) from @tessera/cli\n`,
    );
  });

  it("a project with an invalid manifest exits 1 with file:line: path of the problem", async () => {
    const dir = await tempFiles({
      "tessera.project.ts":
        'export default { name: "bad", components: [{ manifest: "tiny.yaml", module: "tiny.ts" }] };\n',
      "tiny.yaml": [
        "apiVersion: tessera.dev/v1alpha1",
        "kind: Component",
        "metadata:",
        "  name: tiny",
        "spec:",
        "  image: example/tiny:1",
        "  maxDeliver: 0",
        "",
      ].join("\n"),
      "tiny.ts": 'export default { name: "tiny" };\n',
    });
    const result = await runTessera(["dev", dir, "--samples", "--exit", "--port", "0"], { env: ENV });
    expect(result.code).toBe(1);
    expect(result.stdout).toBe("");
    const lines = result.stderr.trimEnd().split("\n");
    expect(lines[0]).toBe(`error: ${join(dir, "tessera.project.ts")}: invalid component manifests`);
    expect(lines.slice(1)).toEqual([
      `  ${join(dir, "tiny.yaml")}:7: spec.maxDeliver: expected integer to be greater or equal to 1, got number 0`,
    ]);
  });

  it("--nats at a closed port fails with a clear error", async () => {
    const nats = `nats://127.0.0.1:${await freePort()}`;
    const result = await runTessera(["dev", DOCUMENTS, "--nats", nats, "--samples", "--exit", "--port", "0"], {
      env: ENV,
    });
    expect(result.code).toBe(3);
    expect(result.stdout).toBe("");
    const [message, hint, ...rest] = result.stderr.split("\n");
    expect(message).toMatch(/^error: cannot reach NATS at nats:\/\/127\.0\.0\.1:\d+: \S/);
    expect(message?.startsWith(`error: cannot reach NATS at ${nats}: `)).toBe(true);
    expect(hint).toBe("  start one with `nats-server -js`, or use --nats auto");
    expect(rest).toEqual([""]);
  });
});

describe("tessera dev, process mode", () => {
  // Each worker process also starts its handler threads, which load the sources through tsx.
  it("--nats auto runs the samples on worker processes the autoscaler starts", { timeout: 120_000 }, async () => {
    const result = await runTessera(
      ["dev", DOCUMENTS, "--nats", "auto", "--samples", "--exit", "--port", "0", "--json"],
      { env: ENV },
    );
    expect(result.code, result.stderr).toBe(0);
    const report = reportOf(result);
    expect(report.mode).toBe("process");
    expectDocumentsOutcome(report);
  });
});
