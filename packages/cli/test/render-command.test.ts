import { mkdtemp, readFile, readdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { durableConsumerName, jobStreamName } from "@tessera/contract";
import { describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { runTessera } from "./helpers/run-tessera.js";
import { tempFiles } from "./helpers/temp-files.js";

const examples = fileURLToPath(new URL("../../../examples/documents/components/", import.meta.url));
const specs = ["extract.yaml", "chunk-embed.yaml"].map((f) => join(examples, f));

describe("tessera render", () => {
  it("writes valid manifests for the example project with --validate -o", async () => {
    const out = await mkdtemp(join(tmpdir(), "tessera-render-"));
    const { code, stdout, stderr } = await runTessera([
      "render",
      ...specs,
      "--validate",
      "-o",
      out,
      "--namespace",
      "docs",
    ]);
    expect(code).toBe(0);
    expect(stderr).toContain("validated 10 objects: no problems");
    expect(stdout).toContain("extract");
    expect((await readdir(out)).sort()).toEqual([
      "chunk-embed.jetstream.json",
      "chunk-embed.yaml",
      "extract.jetstream.json",
      "extract.yaml",
    ]);
    type Manifest = {
      kind: string;
      metadata: { namespace?: string };
      spec: { replicas?: number; triggers: { metadata: Record<string, string> }[] };
    };
    const objects = parseAllDocuments(await readFile(join(out, "extract.yaml"), "utf8")).map(
      (d) => d.toJSON() as Manifest,
    );
    // The config is its own immutable, content-hashed ConfigMap (what a rollback re-points the Deployment to).
    expect(objects.map((o) => o.kind).sort()).toEqual([
      "ConfigMap",
      "Deployment",
      "NetworkPolicy",
      "NetworkPolicy",
      "ScaledObject",
    ]);
    const deployment = objects.find((o) => o.kind === "Deployment");
    expect(deployment?.spec.replicas).toBeUndefined();
    expect(deployment?.metadata.namespace).toBe("docs");
    const trigger = objects.find((o) => o.kind === "ScaledObject")?.spec.triggers[0]?.metadata;
    expect(trigger).toMatchObject({
      stream: jobStreamName("extract"),
      consumer: durableConsumerName("extract"),
      natsServerMonitoringEndpoint: "nats.nats.svc:8222",
    });
    const jetstream = JSON.parse(await readFile(join(out, "extract.jetstream.json"), "utf8")) as {
      stream: { name: string };
      consumer: { durable_name: string };
    };
    expect(jetstream.stream.name).toBe(jobStreamName("extract"));
    expect(jetstream.consumer.durable_name).toBe(durableConsumerName("extract"));
  });

  it("renders the CRD with --crd, and it passes the same validation", async () => {
    const { code, stdout, stderr } = await runTessera(["render", specs[0] as string, "--crd", "--validate"]);
    expect(code).toBe(0);
    expect(stdout).toContain("kind: CustomResourceDefinition");
    expect(stdout).toContain("name: components.tessera.dev");
    expect(stderr).toContain("validated 6 objects: no problems");
  });

  it("renders the controller's install manifests with --install, all valid", async () => {
    const out = await mkdtemp(join(tmpdir(), "tessera-install-"));
    const { code, stderr } = await runTessera([
      "render",
      specs[0] as string,
      "--install",
      "example/tessera:1",
      "--validate",
      "-o",
      out,
    ]);
    expect(code).toBe(0);
    expect(stderr).toContain("validated 13 objects: no problems");
    const kinds = parseAllDocuments(await readFile(join(out, "tessera-install.yaml"), "utf8")).map(
      (d) => (d.toJSON() as { kind: string }).kind,
    );
    expect(kinds).toEqual([
      "Namespace",
      "CustomResourceDefinition",
      "ServiceAccount",
      "ClusterRole",
      "ClusterRoleBinding",
      "Role",
      "RoleBinding",
      "Deployment",
    ]);
  });

  it("--grant and --grant-cluster-role put the Components' grants ceiling into the controller's ClusterRole", async () => {
    const { code, stdout, stderr } = await runTessera([
      "render",
      specs[0] as string,
      "--install",
      "example/tessera:1",
      "--grant",
      "configmaps=get,list",
      "--grant",
      "leases.coordination.k8s.io=get,update",
      "--grant-cluster-role",
      "view",
      "--validate",
    ]);
    expect(code, stderr).toBe(0);
    const role = parseAllDocuments(stdout)
      .map((d) => d.toJSON() as { kind: string; rules?: unknown[] })
      .find((o) => o.kind === "ClusterRole");
    expect(role?.rules).toContainEqual({ apiGroups: [""], resources: ["configmaps"], verbs: ["get", "list"] });
    expect(role?.rules).toContainEqual({
      apiGroups: ["coordination.k8s.io"],
      resources: ["leases"],
      verbs: ["get", "update"],
    });
    expect(role?.rules).toContainEqual({
      apiGroups: ["rbac.authorization.k8s.io"],
      resources: ["clusterroles"],
      resourceNames: ["view"],
      verbs: ["bind"],
    });
  });

  it.each([
    [["--install", "x:1", "--grant", "secrets=*"], "no wildcard"],
    [["--install", "x:1", "--grant", "pods=escalate"], 'Unknown verb "escalate"'],
    [["--grant", "configmaps=get"], "use them with --install"],
  ])("refuses %j (exit 2)", async (args, message) => {
    const run = await runTessera(["render", specs[0] as string, ...args]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(message);
  });

  it("prints YAML to stdout without -o, and a JSON summary with --json", async () => {
    const yaml = await runTessera(["render", specs[0] as string]);
    expect(yaml.code).toBe(0);
    expect(yaml.stdout).toContain("kind: ScaledObject");
    const json = await runTessera(["render", ...specs, "--validate", "--json"]);
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject({
      validated: true,
      problems: [],
      components: [{ name: "extract" }, { name: "chunk-embed" }],
    });
  });

  it("refuses a monitoring endpoint with a scheme, naming the flag's value", async () => {
    const { code, stderr } = await runTessera(["render", specs[0] as string, "--nats-monitoring", "http://nats:8222"]);
    expect(code).toBe(1);
    expect(stderr).toMatch(/cannot render extract: .*http:\/\/nats:8222/);
  });

  it("reports a misspelled spec field with file, line and path, and exits 1", async () => {
    const dir = await tempFiles({
      "bad.yaml":
        "apiVersion: tessera.dev/v1alpha1\nkind: Component\nmetadata:\n  name: bad\nspec:\n  image: x:1\n  egres: none\n",
    });
    const { code, stderr } = await runTessera(["render", join(dir, "bad.yaml"), "--validate"]);
    expect(code).toBe(1);
    expect(stderr).toMatch(/bad\.yaml:7: spec\.egres/);
  });
});

describe("tessera render --env (the environment's guard rails)", () => {
  const bare = "apiVersion: tessera.dev/v1alpha1\nkind: Component\nmetadata:\n  name: bare\nspec:\n  image: x:1\n";

  it("production refuses a component without resources, exit 2, naming what is missing", async () => {
    const dir = await tempFiles({ "bare.yaml": bare });
    const { code, stdout, stderr } = await runTessera(["render", join(dir, "bare.yaml"), "--env", "production"]);
    expect(code).toBe(2);
    expect(stdout).toBe("");
    expect(stderr).toBe(
      "error: refusing to render in production (TESSERA_ENV):\n" +
        "  [component_resources] component bare: spec.resources requests.cpu, requests.memory, limits.memory not set, so the scheduler cannot place it safely and nothing bounds its memory\n",
    );
  });

  it("staging renders and warns; TESSERA_ENV is the default; the examples pass production", async () => {
    const dir = await tempFiles({ "bare.yaml": bare });
    const staging = await runTessera(["render", join(dir, "bare.yaml")], { env: { TESSERA_ENV: "staging" } });
    expect(staging.code).toBe(0);
    expect(staging.stderr).toMatch(/^warning: staging: \[component_resources\] component bare: /);
    expect(staging.stdout).toContain("kind: Deployment");
    expect((await runTessera(["render", ...specs, "--env", "production"])).code).toBe(0);
  });

  it("an unknown environment is a usage error", async () => {
    const { code, stderr } = await runTessera(["render", ...specs, "--env", "prod"]);
    expect(code).toBe(2);
    expect(stderr).toMatch(/--env: TESSERA_ENV: expected one of local, staging, production, got "prod"/);
  });
});
