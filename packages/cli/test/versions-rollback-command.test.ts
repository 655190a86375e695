/**
 * `tessera versions` and `tessera rollback` against the in-memory API server, with revisions recorded as the
 * controller records them (ControllerRevisions labelled for the component) and the controller's reconcile
 * running beside the commands. The real control plane is in test-cluster/deploy-lifecycle.test.ts.
 */
import { join } from "node:path";
import type { ComponentSpec } from "@tessera/contract";
import { COMPONENT_GROUP, COMPONENT_PLURAL, COMPONENT_VERSION } from "@tessera/controller";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { provenanceAnnotations, revisionSelector } from "../src/deploy/annotations.js";
import { startFakeCluster, type FakeCluster } from "./helpers/fake-cluster.js";
import { runTessera } from "./helpers/run-tessera.js";
import { tempFiles } from "./helpers/temp-files.js";

const NS = "docs";
const ref = { group: COMPONENT_GROUP, version: COMPONENT_VERSION, namespace: NS, plural: COMPONENT_PLURAL };
const spec = (image: string, mode: string): ComponentSpec => ({
  image,
  inputMode: "content-ref",
  egress: "none",
  config: { MODE: mode },
  secretRefs: [{ name: "openai", key: "api-key" }],
});

let cluster: FakeCluster;
beforeEach(async () => {
  cluster = await startFakeCluster(NS);
});
afterEach(async () => {
  await cluster.close();
});

/** A revision record as the controller writes it (see the contract's deploy-revision module). */
function putRevision(n: number, s: ComponentSpec, by: string, commit: string): void {
  const [key, value] = revisionSelector("extract").split("=") as [string, string];
  cluster.fake.store.put({
    apiVersion: "apps/v1",
    kind: "ControllerRevision",
    metadata: { name: `extract-${n}`, namespace: NS, labels: { [key]: value } },
    revision: n,
    data: {
      spec: s,
      provenance: provenanceAnnotations({
        deployedBy: by,
        gitCommit: commit,
        gitDirty: n === 2,
        deployedAt: new Date().toISOString(),
        sourceFile: "/src/extract.yaml",
        tesseraVersion: "0.1.0",
      }),
      images: [s.image],
    },
  });
}

async function deployed(): Promise<void> {
  const dir = await tempFiles({
    "extract.yaml": `apiVersion: tessera.dev/v1alpha1\nkind: Component\nmetadata: { name: extract }\nspec: { image: example/extract:2, config: { MODE: careful }, secretRefs: [{ name: openai, key: api-key }] }\n`,
  });
  const stop = cluster.run();
  const r = await runTessera(["deploy", join(dir, "extract.yaml"), "--kubeconfig", cluster.kubeconfig]);
  await stop();
  expect(r.code, r.stderr).toBe(0);
  putRevision(1, spec("example/extract:1", "fast"), "ada@example.com", "0123456789abcdef0123");
  putRevision(2, spec("example/extract:2", "careful"), "grace@example.com", "fedcba9876543210fedc");
}

describe("tessera versions", () => {
  it("lists the recorded revisions with who, commit (dirty) and image, and diffs two without secret values", async () => {
    await deployed();
    const table = await runTessera(["versions", "extract", "--kubeconfig", cluster.kubeconfig]);
    expect(table.code, table.stderr).toBe(0);
    const lines = table.stdout.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^REVISION\s+AGE\s+DEPLOYED BY\s+COMMIT\s+IMAGE\s+LIVE\s+NOTE$/);
    expect(lines[1]).toMatch(/^1\s+\d+s\s+ada@example\.com\s+0123456789ab\s+example\/extract:1$/);
    expect(lines[2]).toMatch(/^2\s+\d+s\s+grace@example\.com\s+fedcba987654 \(dirty\)\s+example\/extract:2/);

    const diff = await runTessera(["versions", "extract", "--diff", "1", "2", "--kubeconfig", cluster.kubeconfig]);
    expect(diff.code, diff.stderr).toBe(0);
    expect(diff.stdout).toContain("# spec\n--- docs/extract revision 1\n+++ docs/extract revision 2\n");
    expect(diff.stdout).toContain("-image: example/extract:1\n+image: example/extract:2");
    expect(diff.stdout).toContain("-config MODE=fast\n+config MODE=careful");
    expect(diff.stdout).toContain("secret API_KEY from Secret openai key api-key (value never shown)");
    expect(diff.stdout).toMatch(/# rendered manifests\n[\s\S]*-\s+image: example\/extract:1/);

    const missing = await runTessera(["versions", "extract", "--diff", "1", "9", "--kubeconfig", cluster.kubeconfig]);
    expect(missing.code).toBe(4);
    expect(missing.stderr).toContain("component docs/extract has no revision 9 (it has 1, 2)");
    const json = await runTessera(["versions", "extract", "--json", "--kubeconfig", cluster.kubeconfig]);
    const doc = JSON.parse(json.stdout) as { revisions: { revision: number; images: string[] }[] };
    expect(doc.revisions.map((r) => [r.revision, r.images])).toEqual([
      [1, ["example/extract:1"]],
      [2, ["example/extract:2"]],
    ]);
  });
});

describe("tessera rollback", () => {
  it("applies the revision's spec in one write with rollback-of, and reports when the Deployment was re-pointed", async () => {
    await deployed();
    cluster.fake.resetCounts();
    const stop = cluster.run();
    const r = await runTessera(["rollback", "extract", "--wait", "--kubeconfig", cluster.kubeconfig], {
      env: { USER: "ada" },
    });
    await stop();
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(
      /^rolled back docs\/extract from revision 2 to 1 \(example\/extract:1\): Deployment re-pointed \S+ after the command started; ready: scaled to zero/,
    );
    const componentWrites = cluster.fake
      .writeLog()
      .filter((w) => w.resource === "components.tessera.dev" && w.subresource === undefined && w.changed);
    expect(componentWrites.map((w) => [w.verb, w.manager])).toEqual([["update", "tessera-cli"]]);
    expect(componentWrites).toHaveLength(1);
    const live = (await cluster.custom.getNamespacedCustomObject({ ...ref, name: "extract" })) as {
      metadata: { annotations: Record<string, string> };
      spec: ComponentSpec;
    };
    expect(live.spec).toEqual(spec("example/extract:1", "fast"));
    expect(Object.values(live.metadata.annotations)).toContain("0123456789abcdef0123");
    expect(Object.entries(live.metadata.annotations)).toContainEqual([expect.stringContaining("rollback-of"), "1"]);
    const lease = cluster.fake.store.list("coordination.k8s.io/v1", "Lease", NS);
    expect(lease).toEqual([]);

    const none = await runTessera(["rollback", "extract", "--to", "7", "--kubeconfig", cluster.kubeconfig]);
    expect(none.code).toBe(4);
  });
});
