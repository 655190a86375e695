/**
 * `tessera deploy` against the in-memory API server with the controller's reconcile running beside it (its
 * stream provisioning stubbed, KEDA imitated by scaling idle Deployments to 0). The real API server and
 * controller are in test-cluster/deploy-lifecycle.test.ts.
 */
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { DEPLOY_PROVENANCE_ANNOTATIONS, DEPLOY_PROVENANCE_ANNOTATION_KEYS } from "@tessera/contract";
import { COMPONENT_GROUP, COMPONENT_PLURAL, COMPONENT_VERSION } from "@tessera/controller";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { deployLockName } from "../src/deploy/deploy-lock.js";
import { kubeconfigFile, startFakeCluster, type FakeCluster } from "./helpers/fake-cluster.js";
import { runTessera } from "./helpers/run-tessera.js";
import { tempFiles } from "./helpers/temp-files.js";

const NS = "docs";
const ref = { group: COMPONENT_GROUP, version: COMPONENT_VERSION, namespace: NS, plural: COMPONENT_PLURAL };

function manifest(name: string, image: string, extra = ""): string {
  return [
    "apiVersion: tessera.dev/v1alpha1",
    "kind: Component",
    `metadata: { name: ${name} }`,
    "spec:",
    `  image: ${image}`,
    "  config: { MODE: fast }",
    "  secretRefs: [{ name: openai, key: api-key }]",
    "  scaling: { minReplicas: 0, maxReplicas: 3 }",
    extra,
  ].join("\n");
}

function gitEmail(cwd: string): string | undefined {
  try {
    return execFileSync("git", ["config", "user.email"], { cwd, encoding: "utf8" }).trim() || undefined;
  } catch {
    return undefined;
  }
}

let cluster: FakeCluster;
beforeEach(async () => {
  cluster = await startFakeCluster(NS);
});
afterEach(async () => {
  await cluster.close();
});

const deploy = async (args: string[], env: Record<string, string> = { USER: "ada" }) => {
  const stop = cluster.run();
  try {
    return await runTessera(["deploy", "--timeout", "20s", "--kubeconfig", cluster.kubeconfig, ...args], { env });
  } finally {
    await stop();
  }
};
const live = async (name: string) =>
  (await cluster.custom.getNamespacedCustomObject({ ...ref, name })) as {
    metadata: { annotations: Record<string, string>; resourceVersion: string };
    spec: { image: string };
  };

describe("tessera deploy", () => {
  it("creates the Component with provenance, waits until it is ready, and a no-change redeploy writes nothing", async () => {
    const dir = await tempFiles({ "extract.yaml": manifest("extract", "example/extract:1") });
    const first = await deploy([join(dir, "extract.yaml")]);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toMatch(/extract\s+created\s+\S+\s+ready\s+scaled to zero by KEDA/);
    expect(first.stderr).toContain(`[fake] ${NS}/extract: created (generation 1); waiting for the controller`);
    expect(first.stderr).toMatch(/deploy of extract \(1 component\): fake: all 1 ready in/);
    const annotations = (await live("extract")).metadata.annotations;
    expect(Object.keys(annotations)).toEqual(expect.arrayContaining(DEPLOY_PROVENANCE_ANNOTATION_KEYS.slice(0, 6)));
    // Who: the git user's email where git knows one, else $USER.
    expect(Object.values(annotations)).toContain(gitEmail(dir) ?? "ada");
    expect(Object.values(annotations)).toContain(join(dir, "extract.yaml"));
    // Outside a git work tree the commit is unknown, not an error.
    expect(Object.values(annotations)).toContain("unknown");

    await cluster.pass();
    cluster.fake.resetCounts();
    const before = (await live("extract")).metadata.resourceVersion;
    const again = await deploy([join(dir, "extract.yaml")]);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toMatch(/extract\s+unchanged\s+\S+\s+ready/);
    expect(cluster.fake.writes().total).toBe(0);
    expect(cluster.fake.mutatingRequests().total).toBe(0);
    expect((await live("extract")).metadata.resourceVersion).toBe(before);
  });

  it("deploys a project directory (tessera.project.ts) as one group named after the project", async () => {
    const dir = await tempFiles({
      "tessera.project.ts": `export default { name: "documents", components: [
        { manifest: "extract.yaml", module: "extract.ts" },
        { manifest: "embed.yaml", module: "embed.ts" },
      ] };\n`,
      "extract.yaml": manifest("extract", "example/extract:1"),
      "embed.yaml": manifest("embed", "example/embed:1"),
      "extract.ts": "export default {};\n",
      "embed.ts": "export default {};\n",
    });
    const r = await deploy([dir]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^extract\s+created\s+.*ready/m);
    expect(r.stdout).toMatch(/^embed\s+created\s+.*ready/m);
    expect(r.stderr).toMatch(/deploy of documents \(2 components\): fake: all 2 ready in/);
    expect((await live("embed")).metadata.annotations[DEPLOY_PROVENANCE_ANNOTATIONS.sourceFile]).toBe(
      join(dir, "embed.yaml"),
    );
  });

  it("--dry-run prints the spec diff (secret values never exist in it) and writes nothing", async () => {
    const dir = await tempFiles({
      "v1.yaml": manifest("extract", "example/extract:1"),
      "v2.yaml": manifest("extract", "example/extract:2"),
    });
    expect((await deploy([join(dir, "v1.yaml")])).code).toBe(0);
    cluster.fake.resetCounts();
    const dry = await runTessera(["deploy", join(dir, "v2.yaml"), "--dry-run", "--kubeconfig", cluster.kubeconfig]);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toContain("-image: example/extract:1");
    expect(dry.stdout).toContain("+image: example/extract:2");
    expect(dry.stdout).toMatch(/extract\s+updated\s+\S+\s+would-change/);
    expect(cluster.fake.mutatingRequests().total).toBe(0);
    expect((await live("extract")).spec.image).toBe("example/extract:1");
  });

  it("refuses while another deploy holds the lock, naming the holder and the expiry, and writes nothing", async () => {
    const dir = await tempFiles({
      "v1.yaml": manifest("extract", "example/extract:1"),
      "v2.yaml": manifest("extract", "example/extract:2"),
    });
    expect((await deploy([join(dir, "v1.yaml")])).code).toBe(0);
    const now = new Date().toISOString().replace(/Z$/, "000Z");
    await cluster.custom.createNamespacedCustomObject({
      group: "coordination.k8s.io",
      version: "v1",
      namespace: NS,
      plural: "leases",
      body: {
        apiVersion: "coordination.k8s.io/v1",
        kind: "Lease",
        metadata: { name: deployLockName("extract") },
        spec: { holderIdentity: "grace@laptop+4242", leaseDurationSeconds: 30, acquireTime: now, renewTime: now },
      },
    });
    cluster.fake.resetCounts();
    const refused = await runTessera(["deploy", join(dir, "v2.yaml"), "--kubeconfig", cluster.kubeconfig]);
    expect(refused.code).toBe(6);
    expect(refused.stderr).toContain(`error: component ${NS}/extract is being deployed by grace@laptop+4242`);
    expect(refused.stderr).toMatch(/it expires at \S+ \(in \d+ s\) unless its holder renews it/);
    expect(refused.stderr).not.toContain("409");
    expect(cluster.fake.mutatingRequests().total).toBe(0);
    expect((await live("extract")).spec.image).toBe("example/extract:1");
  });

  it("a group where one component never becomes ready is rolled back: the updated one restored, the new one deleted", async () => {
    const dir = await tempFiles({
      "a1.yaml": manifest("alpha", "example/alpha:1"),
      "a2.yaml": manifest("alpha", "example/alpha:2"),
      "b.yaml": manifest("beta", "example/beta:1"),
    });
    expect((await deploy([join(dir, "a1.yaml")])).code).toBe(0);
    cluster.stuck.add("beta");
    const r = await deploy([join(dir, "a2.yaml"), join(dir, "b.yaml"), "--timeout", "3s"]);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stdout).toContain("rolled-back");
    expect(r.stdout).toMatch(/alpha\s+updated\s+.*rolled-back/);
    expect(r.stdout).toMatch(/beta\s+created\s+.*deleted/);
    expect(r.stderr).toMatch(/fake: not all ready \(beta\), the group was rolled back/);
    expect((await live("alpha")).spec.image).toBe("example/alpha:1");
    // Deleted: gone once the controller has removed its stream finalizer.
    await cluster.pass();
    await expect(live("beta")).rejects.toThrow();
  });
});

describe("tessera deploy --context a,b", () => {
  it("checks every context before writing anything: an unknown one is a usage error and nothing is written", async () => {
    const kubeconfig = await kubeconfigFile({ a: cluster.fake }, NS);
    const dir = await tempFiles({ "extract.yaml": manifest("extract", "example/extract:1") });
    cluster.fake.resetCounts();
    const r = await runTessera([
      "deploy",
      join(dir, "extract.yaml"),
      "--kubeconfig",
      kubeconfig,
      "--context",
      "a,nope",
    ]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`--context: no context "nope" in the kubeconfig (it has a)`);
    expect(cluster.fake.mutatingRequests().total).toBe(0);
  });

  it("deploys cluster by cluster and stops at the first whose group fails, rolling that one back", async () => {
    const other = await startFakeCluster(NS);
    try {
      const kubeconfig = await kubeconfigFile({ a: cluster.fake, b: other.fake }, NS);
      const dir = await tempFiles({ "extract.yaml": manifest("extract", "example/extract:1") });
      other.stuck.add("extract");
      const stops = [cluster.run(), other.run()];
      const r = await runTessera(
        ["deploy", join(dir, "extract.yaml"), "--kubeconfig", kubeconfig, "--context", "a,b", "--timeout", "3s"],
        { env: { USER: "ada" } },
      );
      const back = await runTessera(
        [
          "deploy",
          join(dir, "extract.yaml"),
          "--kubeconfig",
          kubeconfig,
          "--context",
          "b,a",
          "--timeout",
          "3s",
          "--json",
        ],
        { env: { USER: "ada" } },
      );
      await Promise.all(stops.map((stop) => stop()));
      expect(r.code, r.stderr).toBe(1);
      expect(r.stdout).toMatch(/^context a \(http:\S+\), namespace docs: deployed$/m);
      expect(r.stdout).toMatch(/^context b \(http:\S+\), namespace docs: rolled-back$/m);
      expect(r.stdout).toMatch(/extract\s+created\s+-\s+deleted\s+timed-out: /);
      expect(r.stderr).toMatch(/a: all 1 ready in \S+; b: not all ready \(extract\), the group was rolled back/);
      expect(await live("extract")).toBeDefined();

      expect(back.code).toBe(1);
      const doc = JSON.parse(back.stdout) as { contexts: { context: string; outcome: string }[] };
      expect(doc.contexts.map((c) => [c.context, c.outcome])).toEqual([
        ["b", "rolled-back"],
        ["a", "not-attempted"],
      ]);
    } finally {
      await other.close();
    }
  });
});
