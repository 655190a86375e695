import { createHash } from "node:crypto";
import { join } from "node:path";
import { startFakeKubeApi, type FakeKubeApi } from "@tessera/kube-fake";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { runTessera } from "./helpers/run-tessera.js";
import { tempFiles } from "./helpers/temp-files.js";

// `tessera secrets` against kube-fake (the same commands run on a real kube-apiserver in
// packages/cli/test-cluster/secrets.test.ts). Every value is a marker that must never appear in any output.
const VALUES = {
  apiKey: "S3CRET-api-key-7f2c9e",
  password: "S3CRET-password-41b0aa",
  token: "S3CRET-token-c0ffee",
  changed: "S3CRET-changed-d15ea5e",
};
const NS = "docs";

let fake: FakeKubeApi;
let dir: string;
let kubeconfig: string;

function kubeconfigYaml(server: string, namespace: string): string {
  return JSON.stringify({
    apiVersion: "v1",
    kind: "Config",
    clusters: [{ name: "fake", cluster: { server, "insecure-skip-tls-verify": true } }],
    users: [{ name: "fake", user: { token: "t" } }],
    contexts: [
      { name: "fake", context: { cluster: "fake", user: "fake", namespace } },
      { name: "other", context: { cluster: "fake", user: "fake", namespace: "other" } },
    ],
    "current-context": "fake",
  });
}

beforeAll(async () => {
  fake = await startFakeKubeApi({ namespaces: "auto" });
});
afterAll(async () => {
  await fake?.close();
});
beforeEach(async () => {
  for (const s of fake.store.list("v1", "Secret", NS))
    fake.store.remove({ apiVersion: "v1", kind: "Secret", namespace: NS, name: String(s.metadata?.name) });
  dir = await tempFiles({
    "kubeconfig.json": kubeconfigYaml(fake.url, NS),
    "dead.kubeconfig.json": kubeconfigYaml("http://127.0.0.1:9", NS),
    "secrets.yaml": `openai:\n  api-key: ${VALUES.apiKey}\npostgres:\n  password: "${VALUES.password}"\n  token: ${VALUES.token}\n`,
    "changed.yaml": `openai:\n  api-key: ${VALUES.changed}\npostgres:\n  password: "${VALUES.password}"\n  token: ${VALUES.token}\n  extra: ${VALUES.changed}\n`,
    "not-a-string.yaml": `openai:\n  api-key: 1234567890123\n`,
    "syntax.yaml": `openai:\n  api-key: "${VALUES.apiKey}\n  other: [${VALUES.password}\n`,
    "extract.yaml": [
      "apiVersion: tessera.dev/v1alpha1",
      "kind: Component",
      "metadata: { name: extract }",
      "spec:",
      "  image: example/extract:1",
      "  secretRefs:",
      "    - { name: openai, key: api-key }",
      "    - { name: postgres, key: password }",
      "    - { name: postgres, key: missing-key }",
      "    - { name: absent }",
    ].join("\n"),
  });
  kubeconfig = join(dir, "kubeconfig.json");
});

const tessera = (args: string[]) => runTessera([...args, "--kubeconfig", kubeconfig]);

function expectNoValues(...outputs: string[]): void {
  for (const text of outputs)
    for (const value of [...Object.values(VALUES), "1234567890123"]) {
      expect(text).not.toContain(value);
      expect(text).not.toContain(Buffer.from(value).toString("base64"));
    }
}

const data = (name: string) =>
  Object.fromEntries(
    Object.entries(
      (fake.store.get({ apiVersion: "v1", kind: "Secret", namespace: NS, name }) as { data?: Record<string, string> })
        ?.data ?? {},
    ).map(([k, v]) => [k, Buffer.from(v, "base64").toString("utf8")]),
  );

describe("tessera secrets sync", () => {
  it("creates the Secrets, then writes nothing when they already match, never printing a value", async () => {
    const first = await tessera(["secrets", "sync", join(dir, "secrets.yaml")]);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toMatch(/openai\s+created\s+api-key/);
    expect(first.stdout).toMatch(/postgres\s+created\s+password, token/);
    expect(data("openai")).toEqual({ "api-key": VALUES.apiKey });
    expect(data("postgres")).toEqual({ password: VALUES.password, token: VALUES.token });

    fake.resetCounts();
    const second = await tessera(["secrets", "sync", join(dir, "secrets.yaml"), "--json"]);
    expect(second.code).toBe(0);
    expect(JSON.parse(second.stdout)).toEqual({
      namespace: NS,
      dryRun: false,
      secrets: [
        { secret: "openai", action: "unchanged", keys: [] },
        { secret: "postgres", action: "unchanged", keys: [] },
      ],
    });
    expect(fake.writes().total).toBe(0);
    expectNoValues(first.stdout, first.stderr, second.stdout, second.stderr);
  });

  it("updates only the changed keys and leaves keys the file does not name; --dry-run writes nothing", async () => {
    await tessera(["secrets", "sync", join(dir, "secrets.yaml")]);
    const live = fake.store.get({ apiVersion: "v1", kind: "Secret", namespace: NS, name: "openai" }) as {
      data: Record<string, string>;
    };
    fake.store.put({ ...live, data: { ...live.data, kept: Buffer.from("by-hand").toString("base64") } } as never);

    fake.resetCounts();
    const dry = await tessera(["secrets", "sync", join(dir, "changed.yaml"), "--dry-run"]);
    expect(dry.code).toBe(0);
    expect(dry.stdout).toMatch(/WOULD BE/);
    expect(fake.writes().total).toBe(0);

    const run = await tessera(["secrets", "sync", join(dir, "changed.yaml")]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/openai\s+updated\s+api-key/);
    expect(run.stdout).toMatch(/postgres\s+updated\s+extra/);
    expect(data("openai")).toEqual({ "api-key": VALUES.changed, kept: "by-hand" });
    expect(data("postgres")).toEqual({ password: VALUES.password, token: VALUES.token, extra: VALUES.changed });
    expectNoValues(dry.stdout, dry.stderr, run.stdout, run.stderr);
  });

  it("a refused write names the Secret and the status, never the value", async () => {
    fake.failNext(1, { code: 422, match: (r) => r.method === "POST" });
    const run = await tessera(["secrets", "sync", join(dir, "secrets.yaml")]);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain("create Secret docs/openai: the API server answered 422");
    expectNoValues(run.stdout, run.stderr);
  });

  it("an unreachable API server is exit 3", async () => {
    const run = await runTessera([
      "secrets",
      "sync",
      join(dir, "secrets.yaml"),
      "--kubeconfig",
      join(dir, "dead.kubeconfig.json"),
    ]);
    expect(run.code).toBe(3);
    expect(run.stderr).toContain("cannot reach the Kubernetes API server at http://127.0.0.1:9");
    expectNoValues(run.stdout, run.stderr);
  });

  it.each([
    [
      "not-a-string.yaml",
      "line 2: openai.api-key: expected a string (quote numbers and booleans), got a number (value not shown)",
    ],
    ["syntax.yaml", "(yaml): expected valid YAML, got a syntax error"],
  ])("a bad file (%s) is a usage error naming the place, not the value", async (file, detail) => {
    const run = await tessera(["secrets", "sync", join(dir, file)]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(detail);
    expectNoValues(run.stdout, run.stderr);
  });

  it("--context picks the kubeconfig context (and its namespace); an unknown one is a usage error", async () => {
    const run = await tessera(["secrets", "sync", join(dir, "secrets.yaml"), "--context", "other", "--json"]);
    expect(run.code, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout).namespace).toBe("other");
    const bad = await tessera(["secrets", "sync", join(dir, "secrets.yaml"), "--context", "nope"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('no context "nope"');
  });
});

describe("tessera secrets diff", () => {
  it("compares salted hashes, local against cluster, and exits 1 on a difference", async () => {
    await tessera(["secrets", "sync", join(dir, "secrets.yaml")]);
    const same = await tessera(["secrets", "diff", join(dir, "secrets.yaml"), "--json"]);
    expect(same.code).toBe(0);
    const sameRows = JSON.parse(same.stdout).keys as { local: string; cluster: string; state: string }[];
    expect(sameRows.map((r) => r.state)).toEqual(["same", "same", "same"]);
    for (const r of sameRows) expect(r.local).toBe(r.cluster);

    const run = await tessera(["secrets", "diff", join(dir, "changed.yaml"), "--json"]);
    expect(run.code).toBe(1);
    const doc = JSON.parse(run.stdout) as {
      salted: boolean;
      differences: number;
      keys: { secret: string; key: string; local?: string; cluster?: string; state: string }[];
    };
    expect(doc.salted).toBe(true);
    expect(doc.keys.map((r) => `${r.secret}.${r.key}:${r.state}`)).toEqual([
      "openai.api-key:differs",
      "postgres.extra:only-local",
      "postgres.password:same",
      "postgres.token:same",
    ]);
    expect(doc.differences).toBe(2);
    // Salted per run: the same value hashes differently in two runs, and never to its plain SHA-256.
    const passwordHash = (rows: { key: string; local?: string }[]) => rows.find((r) => r.key === "password")?.local;
    expect(passwordHash(doc.keys)).not.toBe(passwordHash(sameRows as never));
    const plain = createHash("sha256").update(VALUES.password).digest("hex");
    expect(plain).not.toContain((passwordHash(doc.keys) ?? "").replace("sha256:", ""));

    const table = await tessera(["secrets", "diff", join(dir, "changed.yaml")]);
    expect(table.stdout).toMatch(/openai\s+api-key\s+sha256:[0-9a-f]{16}\s+sha256:[0-9a-f]{16}\s+differs/);
    expect(table.stdout).toMatch(/postgres\s+extra\s+sha256:[0-9a-f]{16}\s+-\s+only-local/);
    expectNoValues(same.stdout, same.stderr, run.stdout, run.stderr, table.stdout, table.stderr);
  });
});

describe("tessera secrets check", () => {
  it("reports each secretRef as ok, missing-key or missing-secret and exits 1 when any is missing", async () => {
    await tessera(["secrets", "sync", join(dir, "secrets.yaml")]);
    const run = await tessera(["secrets", "check", join(dir, "extract.yaml"), "--json"]);
    expect(run.code).toBe(1);
    expect(JSON.parse(run.stdout)).toEqual({
      namespace: NS,
      missing: 2,
      refs: [
        { component: "extract", secret: "openai", key: "api-key", state: "ok" },
        { component: "extract", secret: "postgres", key: "password", state: "ok" },
        { component: "extract", secret: "postgres", key: "missing-key", state: "missing-key" },
        { component: "extract", secret: "absent", key: "absent", state: "missing-secret" },
      ],
    });
    const table = await tessera(["secrets", "check", join(dir, "extract.yaml")]);
    expect(table.stderr).toContain("2 of 4 secretRefs missing in namespace docs");
    expectNoValues(run.stdout, run.stderr, table.stdout, table.stderr);
  });
});
