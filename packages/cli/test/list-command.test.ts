/** `tessera list` against the in-memory API server, after real `tessera deploy`s (controller reconcile beside them). */
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { imageVersion } from "../src/commands/list.js";
import { startFakeCluster, type FakeCluster } from "./helpers/fake-cluster.js";
import { runTessera } from "./helpers/run-tessera.js";
import { tempFiles } from "./helpers/temp-files.js";

const manifest = (name: string, image: string, maturity: string) =>
  `apiVersion: tessera.dev/v1alpha1\nkind: Component\nmetadata: { name: ${name} }\nspec: { image: "${image}", maturity: ${maturity} }\n`;

let cluster: FakeCluster;
beforeEach(async () => {
  cluster = await startFakeCluster("docs");
});
afterEach(async () => {
  await cluster.close();
});

describe("tessera list", () => {
  it("shows each component's version, maturity, replicas, readiness and who deployed it, as a table and as JSON", async () => {
    const dir = await tempFiles({
      "a.yaml": manifest("extract", "example/extract:2.1", "beta"),
      "b.yaml": manifest("embed", "registry:5000/embed", "stable"),
    });
    const stop = cluster.run();
    const deployed = await runTessera(
      ["deploy", join(dir, "a.yaml"), join(dir, "b.yaml"), "--kubeconfig", cluster.kubeconfig],
      { env: { USER: "ada" } },
    );
    await stop();
    expect(deployed.code, deployed.stderr).toBe(0);

    const table = await runTessera(["list", "--kubeconfig", cluster.kubeconfig]);
    expect(table.code, table.stderr).toBe(0);
    const lines = table.stdout.trimEnd().split("\n");
    expect(lines[0]).toMatch(
      /^COMPONENT\s+NAMESPACE\s+REVISION\s+VERSION\s+MATURITY\s+REPLICAS\s+READY\s+DEPLOYED BY\s+DEPLOYED$/,
    );
    expect(lines[1]).toMatch(/^embed\s+docs\s+\S+\s+latest\s+stable\s+0\/0\s+True \(idle\)\s+\S+\s+\d+s ago$/);
    expect(lines[2]).toMatch(/^extract\s+docs\s+\S+\s+2\.1\s+beta\s+0\/0\s+True \(idle\)\s+\S+\s+\d+s ago$/);

    const json = await runTessera(["list", "-A", "--json", "--kubeconfig", cluster.kubeconfig]);
    const doc = JSON.parse(json.stdout) as { components: Record<string, unknown>[] };
    expect(doc.components.map((c) => c["component"])).toEqual(["embed", "extract"]);
    expect(doc.components[1]).toMatchObject({
      namespace: "docs",
      image: "example/extract:2.1",
      version: "2.1",
      maturity: "beta",
      replicas: 0,
      ready: "True",
      readyReason: "ScaledToZero",
    });
    expect(typeof doc.components[1]?.["deployedAt"]).toBe("string");

    const empty = await runTessera(["list", "-n", "elsewhere", "--kubeconfig", cluster.kubeconfig]);
    expect(empty.code).toBe(0);
    expect(empty.stderr).toBe("no components in namespace elsewhere\n");
    const both = await runTessera(["list", "-A", "-n", "x", "--kubeconfig", cluster.kubeconfig]);
    expect(both.code).toBe(2);
  });

  it("names the version as people do: the tag, latest when there is none, a short digest", () => {
    expect(imageVersion("example/extract:1")).toBe("1");
    expect(imageVersion("registry:5000/extract")).toBe("latest");
    expect(imageVersion("x@sha256:0123456789abcdef0123")).toBe("sha256:0123456789ab");
  });
});
