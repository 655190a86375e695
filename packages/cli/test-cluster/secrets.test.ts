import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { startControlPlane, type ControlPlane } from "@tessera/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runTessera } from "../test/helpers/run-tessera.js";
import { tempFiles } from "../test/helpers/temp-files.js";

// `tessera secrets` on a real kube-apiserver (the same commands run on kube-fake in test/secrets-command.test.ts).
const NS = "docs";
const VALUES = {
  apiKey: "S3CRET-real-api-key-5e1f",
  changed: "S3CRET-real-changed-77aa",
  locked: "S3CRET-locked-0b0b",
};
const SECRETS = `/api/v1/namespaces/${NS}/secrets`;

let cp: ControlPlane;
beforeAll(async () => {
  cp = await startControlPlane();
  expect((await cp.request("POST", "/api/v1/namespaces", { metadata: { name: NS } })).status).toBe(201);
});
afterAll(async () => {
  await cp?.stop();
});

const tessera = (args: string[]) => runTessera([...args, "--kubeconfig", cp.kubeconfigPath, "--namespace", NS]);
function expectNoValues(...outputs: string[]): void {
  for (const text of outputs)
    for (const value of Object.values(VALUES)) {
      expect(text).not.toContain(value);
      expect(text).not.toContain(Buffer.from(value).toString("base64"));
    }
}

describe("tessera secrets on a real API server", () => {
  it("sync creates, a second sync writes nothing, diff and check agree, and nothing prints a value", async () => {
    const dir = await tempFiles({
      "secrets.yaml": `openai:\n  api-key: ${VALUES.apiKey}\n`,
      "extract.yaml": [
        "apiVersion: tessera.dev/v1alpha1",
        "kind: Component",
        "metadata: { name: extract }",
        "spec:",
        "  image: example/extract:1",
        "  secretRefs: [{ name: openai, key: api-key }]",
      ].join("\n"),
    });
    const sync = await tessera(["secrets", "sync", join(dir, "secrets.yaml")]);
    expect(sync.code, sync.stderr).toBe(0);
    expect(sync.stdout).toMatch(/openai\s+created\s+api-key/);
    const live = (await cp.request("GET", `${SECRETS}/openai`)).body as {
      metadata: { resourceVersion: string };
      data: Record<string, string>;
    };
    expect(Buffer.from(live.data["api-key"] as string, "base64").toString()).toBe(VALUES.apiKey);

    const again = await tessera(["secrets", "sync", join(dir, "secrets.yaml")]);
    expect(again.stdout).toMatch(/openai\s+unchanged/);
    const after = (await cp.request("GET", `${SECRETS}/openai`)).body as { metadata: { resourceVersion: string } };
    expect(after.metadata.resourceVersion).toBe(live.metadata.resourceVersion);

    const diff = await tessera(["secrets", "diff", join(dir, "secrets.yaml")]);
    expect(diff.code).toBe(0);
    expect(diff.stdout).toMatch(/openai\s+api-key\s+(sha256:[0-9a-f]{16})\s+\1\s+same/);
    const check = await tessera(["secrets", "check", join(dir, "extract.yaml")]);
    expect(check.code).toBe(0);
    expect(check.stdout).toMatch(/extract\s+openai\s+api-key\s+ok/);

    await writeFile(join(dir, "secrets.yaml"), `openai:\n  api-key: ${VALUES.changed}\n`);
    const changed = await tessera(["secrets", "diff", join(dir, "secrets.yaml")]);
    expect(changed.code).toBe(1);
    expect(changed.stdout).toMatch(/openai\s+api-key\s+\S+\s+\S+\s+differs/);
    expectNoValues(sync.stdout, sync.stderr, again.stdout, diff.stdout, check.stdout, changed.stdout, changed.stderr);
  });

  it("an update the API server refuses (an immutable Secret) fails with its status, never the value", async () => {
    const created = await cp.request("POST", SECRETS, {
      metadata: { name: "locked" },
      immutable: true,
      stringData: { key: "old" },
    });
    expect(created.status).toBe(201);
    const dir = await tempFiles({ "secrets.yaml": `locked:\n  key: ${VALUES.locked}\n` });
    const run = await tessera(["secrets", "sync", join(dir, "secrets.yaml")]);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain("update Secret docs/locked: the API server answered 422 Invalid");
    expectNoValues(run.stdout, run.stderr);
  });
});
