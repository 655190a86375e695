/**
 * `tessera versions` and `tessera rollback` against the in-memory API server, with revisions recorded as the
 * controller records them (ControllerRevisions labelled for the component) and the controller's reconcile
 * running beside the commands. The real control plane is in test-cluster/deploy-lifecycle.test.ts.
 */
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import {
  DEPLOY_PROVENANCE_ANNOTATIONS,
  configHash,
  configMapName,
  deployRevisionLabels,
  deployRevisionName,
  effectiveConfig,
  normalizeSpec,
  revisionContentHash,
  specHash,
  type ComponentSpec,
  type DeployRevisionData,
} from "@tessera/contract";
import { COMPONENT_GROUP, COMPONENT_PLURAL, COMPONENT_VERSION } from "@tessera/controller";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
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

/** Who the CLI records outside a git work tree: the git user's email where git has one, else $USER. */
const WHO = (() => {
  try {
    return execFileSync("git", ["config", "user.email"], { encoding: "utf8" }).trim() || "ada";
  } catch {
    return "ada";
  }
})();

let cluster: FakeCluster;
beforeEach(async () => {
  cluster = await startFakeCluster(NS);
});
afterEach(async () => {
  await cluster.close();
});

/** A revision record as the controller writes it, unless the controller already recorded that one. */
function putRevision(
  n: number,
  s: ComponentSpec,
  by: string,
  commit: string,
  dirty: NonNullable<DeployRevisionData["provenance"]["gitDirty"]>,
): void {
  const name = deployRevisionName("extract", n);
  if (cluster.fake.store.get({ apiVersion: "apps/v1", kind: "ControllerRevision", namespace: NS, name }) !== undefined)
    return;
  const config = effectiveConfig(s.config, undefined);
  const hash = configHash(config);
  const data: DeployRevisionData = {
    schemaVersion: 1,
    spec: normalizeSpec(s),
    specHash: specHash(s),
    contentHash: revisionContentHash(s, undefined),
    provenance: {
      deployedBy: by,
      gitCommit: commit,
      gitDirty: dirty,
      deployedAt: new Date().toISOString(),
      sourceFile: "/src/extract.yaml",
      tesseraVersion: "0.1.0",
    },
    effectiveConfig: config,
    config: { hash, configMapName: configMapName("extract", hash) },
    images: [s.image],
  };
  cluster.fake.store.put({
    apiVersion: "apps/v1",
    kind: "ControllerRevision",
    metadata: { name, namespace: NS, labels: deployRevisionLabels("extract", n) },
    revision: n,
    data,
  });
}

const manifest = (image: string, mode: string) =>
  `apiVersion: tessera.dev/v1alpha1\nkind: Component\nmetadata: { name: extract }\nspec: { image: ${image}, config: { MODE: ${mode} }, secretRefs: [{ name: openai, key: api-key }] }\n`;

/**
 * Two real deploys (v1, v2). Where the controller records revisions itself they are its records; the ones it did
 * not record are put as it would have (provenance as the CLI stamps it outside a git work tree).
 */
async function deployed(): Promise<void> {
  const dir = await tempFiles({
    "v1.yaml": manifest("example/extract:1", "fast"),
    "v2.yaml": manifest("example/extract:2", "careful"),
  });
  for (const file of ["v1.yaml", "v2.yaml"]) {
    const stop = cluster.run();
    const r = await runTessera(["deploy", join(dir, file), "--kubeconfig", cluster.kubeconfig], {
      env: { USER: "ada" },
    });
    await stop();
    expect(r.code, r.stderr).toBe(0);
  }
  putRevision(1, spec("example/extract:1", "fast"), WHO, "unknown", "unknown");
  putRevision(2, spec("example/extract:2", "careful"), WHO, "unknown", "unknown");
}

describe("tessera versions", () => {
  it("lists the recorded revisions with who, commit (dirty) and image, and diffs two without secret values", async () => {
    await deployed();
    const table = await runTessera(["versions", "extract", "--kubeconfig", cluster.kubeconfig]);
    expect(table.code, table.stderr).toBe(0);
    const lines = table.stdout.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^REVISION\s+AGE\s+DEPLOYED BY\s+COMMIT\s+IMAGE\s+LIVE\s+NOTE$/);
    const who = WHO.replace(/[.+]/g, "\\$&");
    expect(lines[1]).toMatch(new RegExp(`^1\\s+\\d+s\\s+${who}\\s+unknown\\s+example/extract:1$`));
    expect(lines[2]).toMatch(new RegExp(`^2\\s+\\d+s\\s+${who}\\s+unknown\\s+example/extract:2`));
    // A revision from a dirty work tree says so next to its commit.
    putRevision(90, spec("example/extract:9", "fast"), "grace@example.com", "fedcba9876543210fedc", "true");
    const dirty = await runTessera(["versions", "extract", "--kubeconfig", cluster.kubeconfig]);
    expect(dirty.stdout).toMatch(/^90\s+\d+s\s+grace@example\.com\s+fedcba987654 \(dirty\)\s+example\/extract:9/m);

    const diff = await runTessera(["versions", "extract", "--diff", "1", "2", "--kubeconfig", cluster.kubeconfig]);
    expect(diff.code, diff.stderr).toBe(0);
    expect(diff.stdout).toContain("# spec\n--- docs/extract revision 1\n+++ docs/extract revision 2\n");
    expect(diff.stdout).toContain("-image: example/extract:1\n+image: example/extract:2");
    expect(diff.stdout).toContain("\n-config MODE=fast\n");
    expect(diff.stdout).toContain("\n+config MODE=careful\n");
    expect(diff.stdout).toMatch(/^-configMap: extract-config-[0-9a-f]{10}$/m);
    expect(diff.stdout).toContain("secret API_KEY from Secret openai key api-key (value never shown)");
    expect(diff.stdout).toMatch(/# rendered manifests\n[\s\S]*-\s+image: example\/extract:1/);
    expect(diff.stdout).not.toMatch(/: \*a\d/);

    const missing = await runTessera(["versions", "extract", "--diff", "1", "9", "--kubeconfig", cluster.kubeconfig]);
    expect(missing.code).toBe(4);
    expect(missing.stderr).toContain("component docs/extract has no revision 9 (it has 1, 2, 90)");
    const json = await runTessera(["versions", "extract", "--json", "--kubeconfig", cluster.kubeconfig]);
    const doc = JSON.parse(json.stdout) as { revisions: { revision: number; images: string[] }[] };
    expect(doc.revisions.map((r) => [r.revision, r.images])).toEqual([
      [1, ["example/extract:1"]],
      [2, ["example/extract:2"]],
      [90, ["example/extract:9"]],
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
    expect(live.metadata.annotations[DEPLOY_PROVENANCE_ANNOTATIONS.deployedBy]).toBe(WHO);
    expect(live.metadata.annotations[DEPLOY_PROVENANCE_ANNOTATIONS.gitCommit]).toBe("unknown");
    expect(live.metadata.annotations[DEPLOY_PROVENANCE_ANNOTATIONS.rollbackOf]).toBe("1");
    const lease = cluster.fake.store.list("coordination.k8s.io/v1", "Lease", NS);
    expect(lease).toEqual([]);

    const none = await runTessera(["rollback", "extract", "--to", "7", "--kubeconfig", cluster.kubeconfig]);
    expect(none.code).toBe(4);
  });
});
