import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { formatManifestProblem, loadComponentManifests } from "../src/manifests/load-component-manifests.js";
import { runTessera } from "./helpers/run-tessera.js";
import { tempFiles } from "./helpers/temp-files.js";

const manifest = (name: string, spec = "  image: ghcr.io/acme/extract:1.0"): string =>
  `apiVersion: tessera.dev/v1alpha1\nkind: Component\nmetadata:\n  name: ${name}\nspec:\n${spec}\n`;

describe("loadComponentManifests", () => {
  it("loads a valid manifest with the spec defaults filled in", async () => {
    const dir = await tempFiles({ "extract.yaml": manifest("extract") });
    const file = join(dir, "extract.yaml");
    const { manifests, problems } = await loadComponentManifests([file]);
    expect(problems).toEqual([]);
    expect(manifests).toEqual([
      {
        file,
        index: 0,
        line: 1,
        name: "extract",
        spec: { image: "ghcr.io/acme/extract:1.0", inputMode: "content-ref", egress: "none" },
      },
    ]);
  });

  it("loads several documents per file and JSON files, skipping empty documents", async () => {
    const json = JSON.stringify(
      {
        apiVersion: "tessera.dev/v1alpha1",
        kind: "Component",
        metadata: { name: "summarize" },
        spec: { image: "s:1", concurrency: 4 },
      },
      null,
      "\t",
    );
    const dir = await tempFiles({
      "all.yaml": `---\n${manifest("extract")}---\n# a comment only\n---\n${manifest("ocr")}---\n`,
      "summarize.json": json,
    });
    const { manifests, problems } = await loadComponentManifests([join(dir, "all.yaml"), join(dir, "summarize.json")]);
    expect(problems).toEqual([]);
    expect(manifests.map((m) => [m.name, m.index, m.line])).toEqual([
      ["extract", 0, 2],
      ["ocr", 2, 11],
      ["summarize", 0, 1],
    ]);
    expect(manifests[2]?.spec.concurrency).toBe(4);
  });

  it("reports a YAML syntax error with its file and line, and still checks the other documents", async () => {
    const dir = await tempFiles({
      "broken.yaml": `${manifest("extract")}---\nspec:\n  image: [unclosed\n  concurrency: 2\n`,
    });
    const file = join(dir, "broken.yaml");
    const { manifests, problems } = await loadComponentManifests([file]);
    expect(manifests.map((m) => m.name)).toEqual(["extract"]);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatchObject({ kind: "syntax", file, document: 1, path: "(yaml)" });
    expect(problems[0]?.line).toBeGreaterThanOrEqual(8);
    expect(formatManifestProblem(problems[0]!)).toMatch(
      new RegExp(`^${file}:\\d+: \\(yaml\\): expected valid YAML or JSON, got a syntax error: `),
    );
  });

  it("names an unknown spec field with its path and line", async () => {
    const dir = await tempFiles({ "c.yaml": manifest("extract", "  image: x:1\n  replicas: 3") });
    const file = join(dir, "c.yaml");
    const { manifests, problems } = await loadComponentManifests([file]);
    expect(manifests).toEqual([]);
    expect(problems).toEqual([
      expect.objectContaining({ kind: "content", file, path: "spec.replicas", line: 7, received: "number 3" }),
    ]);
    expect(formatManifestProblem(problems[0]!)).toMatch(
      /:7: spec\.replicas: expected no such field \(known fields: image, [a-zA-Z, ]+\), got number 3$/,
    );
    expect(formatManifestProblem(problems[0]!).startsWith(`${file}:7: `)).toBe(true);
  });

  it("rejects a name that is not a DNS-1123 label, at the metadata.name line", async () => {
    const dir = await tempFiles({ "c.yaml": manifest("Extract_PDF") });
    const file = join(dir, "c.yaml");
    const { problems } = await loadComponentManifests([file]);
    expect(problems).toEqual([
      expect.objectContaining({ file, path: "metadata.name", line: 4, received: 'string "Extract_PDF"' }),
    ]);
    expect(problems[0]?.expected).toMatch(/^a DNS-1123 label/);
  });

  it("applies the cross-field rules: egress allowlist needs a target", async () => {
    const dir = await tempFiles({
      "c.yaml": manifest("fetcher", "  image: x:1\n  egress: allowlist\n  allowlist:\n    ports:\n      - port: 443"),
    });
    const file = join(dir, "c.yaml");
    const { problems } = await loadComponentManifests([file]);
    expect(problems).toEqual([
      expect.objectContaining({ file, path: "spec.allowlist", line: 8, received: "none of them" }),
    ]);
    expect(formatManifestProblem(problems[0]!)).toBe(
      `${file}:8: spec.allowlist: expected at least one of cidrs, clusterPeers or openInternet: true when egress is allowlist, got none of them`,
    );
  });

  it("points a bad list item at its own line", async () => {
    const dir = await tempFiles({
      "c.yaml": manifest(
        "fetcher",
        "  image: x:1\n  egress: allowlist\n  allowlist:\n    cidrs:\n      - 10.0.0.0/8\n      - 0.0.0.0/0",
      ),
    });
    const { problems } = await loadComponentManifests([join(dir, "c.yaml")]);
    expect(problems).toEqual([expect.objectContaining({ path: "spec.allowlist.cidrs[1]", line: 11 })]);
  });

  it("checks apiVersion, kind, unknown top-level fields and a missing spec", async () => {
    const dir = await tempFiles({ "c.yaml": "apiVersion: v1\nkind: Deployment\nmetadata:\n  name: ok\nstatus: {}\n" });
    const { problems } = await loadComponentManifests([join(dir, "c.yaml")]);
    expect(problems.map((p) => [p.path, p.line])).toEqual([
      ["status", 5],
      ["apiVersion", 1],
      ["kind", 2],
      ["spec", 1],
    ]);
    expect(problems[1]?.expected).toBe('"tessera.dev/v1alpha1"');
  });

  it("reports a missing file, an empty file and a name used twice", async () => {
    const dir = await tempFiles({
      "a.yaml": manifest("extract"),
      "b.yaml": `${manifest("extract")}`,
      "empty.yaml": "# nothing\n",
    });
    const { manifests, problems } = await loadComponentManifests([
      join(dir, "a.yaml"),
      join(dir, "b.yaml"),
      join(dir, "nope.yaml"),
      join(dir, "empty.yaml"),
    ]);
    expect(manifests.map((m) => m.file)).toEqual([join(dir, "a.yaml")]);
    expect(problems).toEqual([
      expect.objectContaining({
        kind: "content",
        file: join(dir, "b.yaml"),
        path: "metadata.name",
        line: 4,
        expected: `a name no other manifest uses (already defined at ${join(dir, "a.yaml")}:1)`,
      }),
      expect.objectContaining({ kind: "file", file: join(dir, "nope.yaml"), received: "no such file" }),
      expect.objectContaining({
        kind: "content",
        file: join(dir, "empty.yaml"),
        expected: "at least one Component document",
      }),
    ]);
    expect(formatManifestProblem(problems[1]!)).toBe(
      `${join(dir, "nope.yaml")}: expected a readable YAML or JSON file, got no such file`,
    );
  });
});

describe("tessera validate", () => {
  it("prints file:line problems and a summary, exit 1", async () => {
    const dir = await tempFiles({
      "good.yaml": manifest("extract"),
      "bad.yaml": manifest("ocr", "  image: x:1\n  maxDeliver: 0"),
    });
    const result = await runTessera(["validate", join(dir, "good.yaml"), join(dir, "bad.yaml")]);
    expect(result.code).toBe(1);
    expect(result.stdout).toContain(
      `${join(dir, "bad.yaml")}:7: spec.maxDeliver: expected integer to be greater or equal to 1, got number 0\n`,
    );
    expect(result.stdout).toContain("1 problem in 1 file; 1 valid component\n");
  });

  it("exits 0 for valid manifests and lists them", async () => {
    const dir = await tempFiles({ "all.yaml": `${manifest("extract")}---\n${manifest("ocr")}` });
    const result = await runTessera(["validate", join(dir, "all.yaml")]);
    expect(result).toMatchObject({ code: 0, stdout: "ok: 2 valid components in 1 file (extract, ocr)\n" });
  });

  it("exits 2 when a named file does not exist, after checking the others", async () => {
    const dir = await tempFiles({ "bad.yaml": manifest("Bad") });
    const result = await runTessera(["validate", join(dir, "missing.yaml"), join(dir, "bad.yaml")]);
    expect(result.code).toBe(2);
    expect(result.stdout).toContain(
      `${join(dir, "missing.yaml")}: expected a readable YAML or JSON file, got no such file`,
    );
    expect(result.stdout).toContain(`${join(dir, "bad.yaml")}:4: metadata.name:`);
  });

  it("--json gives scripts the manifests and problems", async () => {
    const dir = await tempFiles({ "c.yaml": manifest("extract", "  image: x:1\n  egress: everywhere") });
    const result = await runTessera(["validate", "--json", join(dir, "c.yaml")]);
    expect(result.code).toBe(1);
    const parsed = JSON.parse(result.stdout) as { ok: boolean; problems: { path: string; line: number }[] };
    expect(parsed.ok).toBe(false);
    expect(parsed.problems.map((p) => [p.path, p.line])).toEqual([["spec.egress", 7]]);
  });
});
