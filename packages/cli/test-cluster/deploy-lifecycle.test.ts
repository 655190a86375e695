/**
 * The deploy lifecycle on the real control plane (kube-apiserver, kube-controller-manager, KEDA, a real
 * nats-server, the Tessera controller in-process): deploy → no-change redeploy (zero writes) → deploy → versions →
 * versions --diff → a concurrent deploy refused by the lock → rollback (timed, printed) → list → canary → promote.
 * The printed outputs are collected and logged at the end for the closing note.
 */
import { spawn } from "node:child_process";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { connectJetStreamBus, type Bus } from "@tessera/bus";
import { startNatsServer, waitFor, type NatsServerHandle } from "@tessera/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { deployLockName } from "../src/deploy/deploy-lock.js";
import { runTessera, startTessera } from "../test/helpers/run-tessera.js";
import { tempFiles } from "../test/helpers/temp-files.js";
import {
  getObject,
  resourceVersions,
  settledResourceVersions,
  startDeployCluster,
  type DeployCluster,
} from "./deploy-env.js";

const NS = "docs";
const TESSERA_BIN = fileURLToPath(new URL("../bin/tessera.js", import.meta.url));
const NAME = "extract";
const DEPLOYMENT = `/apis/apps/v1/namespaces/${NS}/deployments/${NAME}`;
const LEASE = `/apis/coordination.k8s.io/v1/namespaces/${NS}/leases/${deployLockName(NAME)}`;

function manifest(image: string, mode: string, canary = ""): string {
  return [
    "apiVersion: tessera.dev/v1alpha1",
    "kind: Component",
    `metadata: { name: ${NAME} }`,
    "spec:",
    `  image: ${image}`,
    `  config: { MODE: ${mode} }`,
    "  secretRefs: [{ name: openai, key: api-key }]",
    "  scaling: { minReplicas: 0, maxReplicas: 4, queueDepthTarget: 5 }",
    canary,
  ].join("\n");
}

let nats: NatsServerHandle;
let bus: Bus;
let cluster: DeployCluster;
beforeAll(async () => {
  nats = await startNatsServer();
  bus = await connectJetStreamBus({ servers: nats.url, provision: true, name: "cluster-deploy-lifecycle" });
  cluster = await startDeployCluster(nats, bus, [NS]);
  // KEDA resolves the scale target's env when it builds its HPA: a missing Secret named by a secretKeyRef
  // leaves the ScaledObject not Ready and the Deployment never scaled to zero.
  const secret = await cluster.api.request("POST", `/api/v1/namespaces/${NS}/secrets`, {
    metadata: { name: "openai" },
    stringData: { "api-key": "S3CRET-never-printed" },
  });
  expect(secret.status).toBe(201);
});
afterAll(async () => {
  await cluster?.stop();
  await bus?.close();
  await nats?.stop();
});

const printed: string[] = [];
const tessera = async (args: string[], user = "ada") => {
  const r = await runTessera([...args, "--kubeconfig", cluster.kubeconfigPath, "-n", NS], { env: { USER: user } });
  printed.push(`$ tessera ${args.join(" ")}   (exit ${r.code})\n${r.stdout}${r.stderr}`);
  return r;
};
const image = async () =>
  (await getObject<{ spec: { template: { spec: { containers: { image: string }[] } } } }>(cluster.api, DEPLOYMENT))
    ?.spec.template.spec.containers[0]?.image;

describe("the deploy lifecycle on a real control plane", () => {
  it(
    "deploy, redeploy without writes, versions, diff, lock, rollback, list, canary and promote",
    { timeout: 600_000 },
    async () => {
      const dir = await tempFiles({
        "v1.yaml": manifest("example/extract:1", "fast"),
        "v2.yaml": manifest("example/extract:2", "careful"),
        "v3.yaml": manifest("example/extract:3", "careful"),
        "canary.yaml": manifest("example/extract:1", "fast", "  canary: { image: example/extract:4, weight: 25 }"),
      });

      const first = await tessera(["deploy", join(dir, "v1.yaml"), "--timeout", "3m"]);
      expect(first.code, first.stderr).toBe(0);
      expect(first.stdout).toMatch(/extract\s+created\s+\S+\s+ready/);

      // No change: nothing is written (the lock is only read), and the controller has nothing to react to.
      const before = await settledResourceVersions(cluster.api, NS, NAME);
      const same = await tessera(["deploy", join(dir, "v1.yaml"), "--timeout", "3m"]);
      expect(same.code, same.stderr).toBe(0);
      expect(same.stdout).toMatch(/extract\s+unchanged/);
      await new Promise((r) => setTimeout(r, 2_000));
      const after = await resourceVersions(cluster.api, NS, NAME);
      const changed = Object.keys(after).filter((k) => after[k] !== before[k]);
      console.log(`no-change redeploy: ${changed.length} objects written (of ${Object.keys(after).length} counted)`);
      expect(changed).toEqual([]);

      const dry = await tessera(["deploy", join(dir, "v2.yaml"), "--dry-run"]);
      expect(dry.code, dry.stderr).toBe(0);
      expect(dry.stdout).toContain("-image: example/extract:1\n+image: example/extract:2");
      expect(await resourceVersions(cluster.api, NS, NAME)).toEqual(after);

      // A second deploy while the first holds the lock is refused with who holds it, not a 409.
      const holding = startTessera(
        ["deploy", join(dir, "v2.yaml"), "--timeout", "3m", "--kubeconfig", cluster.kubeconfigPath, "-n", NS],
        {
          env: { USER: "ada" },
        },
      );
      await waitFor("the first deploy's lock", () => getObject(cluster.api, LEASE), 60_000, 20);
      const refused = await tessera(["deploy", join(dir, "v3.yaml")], "grace");
      const held = await holding.result;
      printed.push(`$ tessera deploy v2.yaml (holding the lock, exit ${held.code})\n${held.stdout}${held.stderr}`);
      expect(held.code, held.stderr).toBe(0);
      expect(refused.code).toBe(6);
      expect(refused.stderr).toMatch(/component docs\/extract is being deployed by ada@\S+\+\d+/);
      expect(held.stdout).toMatch(/extract\s+updated\s+1 → 2\s+ready/);
      expect(await getObject(cluster.api, LEASE)).toBeUndefined();

      const second = await tessera(["deploy", join(dir, "v3.yaml"), "--timeout", "3m"]);
      expect(second.code, second.stderr).toBe(0);
      expect(second.stdout).toMatch(/extract\s+updated\s+2 → 3\s+ready/);
      expect(await image()).toBe("example/extract:3");

      const versions = await tessera(["versions", NAME]);
      expect(versions.code, versions.stderr).toBe(0);
      expect(versions.stdout).toMatch(/^1\s+\S+\s+\S+\s+unknown\s+example\/extract:1\s*$/m);
      expect(versions.stdout).toMatch(/^2\s+\S+\s+\S+\s+unknown\s+example\/extract:2\s*$/m);
      expect(versions.stdout).toMatch(/^3\s+\S+\s+\S+\s+unknown\s+example\/extract:3\s+\*\s*$/m);

      const diff = await tessera(["versions", NAME, "--diff", "1", "2"]);
      expect(diff.code, diff.stderr).toBe(0);
      expect(diff.stdout).toContain("-image: example/extract:1");
      expect(diff.stdout).toContain("+image: example/extract:2");
      expect(diff.stdout).toContain("-config MODE=fast");
      expect(diff.stdout).toContain("+config MODE=careful");
      expect(diff.stdout).toContain("secret API_KEY from Secret openai key api-key (value never shown)");

      const started = performance.now();
      const rollback = await tessera(["rollback", NAME, "--to", "2", "--wait", "--timeout", "3m"]);
      expect(rollback.code, rollback.stderr).toBe(0);
      expect(rollback.stdout).toMatch(
        /rolled back docs\/extract from revision 3 to 2 \(example\/extract:2\): Deployment re-pointed \S+ after the command started/,
      );
      console.log(
        `rollback: ${rollback.stdout.trim()} (test measured ${Math.round(performance.now() - started)} ms to the end of --wait)`,
      );
      expect(await image()).toBe("example/extract:2");
      const history = await tessera(["versions", NAME]);
      expect(history.stdout).toMatch(/^4\s+.*example\/extract:2\s+\*\s+rollback to 2\s*$/m);

      const list = await tessera(["list"]);
      expect(list.code, list.stderr).toBe(0);
      expect(list.stdout).toMatch(/^extract\s+docs\s+4\s+2\s+experimental\s+0\/0\s+True \(idle\)\s+\S+\s+\d+s ago$/m);

      // The same as a user runs it: a separate `tessera` process (Node and tsx start included), default target (the
      // revision before the live one: 3), timed by this test from the spawn to the Deployment re-pointed.
      const spawned = performance.now();
      const child = spawn(process.execPath, [TESSERA_BIN, "rollback", NAME, "-n", NS], {
        env: { ...process.env, KUBECONFIG: cluster.kubeconfigPath },
        stdio: ["ignore", "pipe", "pipe"],
      });
      let childOut = "";
      child.stdout.on("data", (b: Buffer) => (childOut += b.toString()));
      child.stderr.on("data", (b: Buffer) => (childOut += b.toString()));
      const exited = new Promise<number | null>((resolve) => child.on("close", resolve));
      await waitFor(
        "the Deployment re-pointed to revision 3",
        async () => ((await image()) === "example/extract:3" ? true : undefined),
        120_000,
        10,
      );
      const repointedMs = Math.round(performance.now() - spawned);
      expect(await exited).toBe(0);
      printed.push(`$ tessera rollback extract (a separate process, exit 0)\n${childOut}`);
      console.log(
        `rollback as a separate process: Deployment re-pointed ${repointedMs} ms after the spawn; it printed: ${childOut.trim()}`,
      );
      expect(childOut).toMatch(/rolled back docs\/extract from revision 4 to 3 \(example\/extract:3\)/);

      const canary = await tessera(["deploy", join(dir, "canary.yaml"), "--timeout", "3m"]);
      expect(canary.code, canary.stderr).toBe(0);
      const promote = await tessera(["promote", NAME, "--wait", "120"]);
      expect(promote.code, promote.stderr).toBe(0);
      expect(promote.stdout).toContain("promoted the canary of docs/extract: image example/extract:4");
      await waitFor(
        "the promoted image",
        async () => ((await image()) === "example/extract:4" ? true : undefined),
        60_000,
        100,
      );
      const finalVersions = await tessera(["versions", NAME]);
      expect(finalVersions.stdout).toMatch(/^7\s+.*example\/extract:4\s+\*/m);

      for (const text of printed) expect(text).not.toContain("S3CRET");
      console.log(`\n===== what each command printed =====\n${printed.join("\n")}`);
    },
  );
});
