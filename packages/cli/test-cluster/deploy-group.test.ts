/**
 * Groups and several clusters on two real control planes (each with kube-controller-manager, KEDA and the Tessera
 * controller; one nats-server): `tessera deploy --context a,b` of a group, then a group of three where one can
 * never become ready (minReplicas 1 and no kubelet): the group is rolled back on the first cluster and the
 * second is not touched.
 */
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { connectJetStreamBus, type Bus } from "@tessera/bus";
import { startNatsServer, waitFor, type Kubeconfig, type NatsServerHandle } from "@tessera/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runTessera } from "../test/helpers/run-tessera.js";
import { tempFiles } from "../test/helpers/temp-files.js";
import { getObject, startDeployCluster, type DeployCluster } from "./deploy-env.js";

const NS = "docs";

const manifest = (name: string, image: string, minReplicas = 0) =>
  `apiVersion: tessera.dev/v1alpha1\nkind: Component\nmetadata: { name: ${name} }\nspec: { image: "${image}", scaling: { minReplicas: ${minReplicas}, maxReplicas: 2 } }\n`;

let nats: NatsServerHandle;
let bus: Bus;
let a: DeployCluster;
let b: DeployCluster;
let kubeconfig: string;
beforeAll(async () => {
  nats = await startNatsServer();
  bus = await connectJetStreamBus({ servers: nats.url, provision: true, name: "cluster-deploy-group" });
  a = await startDeployCluster(nats, bus, [NS]);
  b = await startDeployCluster(nats, bus, [NS]);
  // One kubeconfig with a context per control plane, as an operator's has one per cluster.
  const merged: Kubeconfig = { ...a.api.kubeconfig, clusters: [], users: [], contexts: [] };
  for (const [name, cluster] of [
    ["a", a],
    ["b", b],
  ] as const) {
    const kc = cluster.api.kubeconfig;
    merged.clusters.push({ ...kc.clusters[0]!, name });
    merged.users.push({ ...kc.users[0]!, name });
    merged.contexts.push({ name, context: { cluster: name, user: name, namespace: NS } });
  }
  merged["current-context"] = "a";
  const dir = await tempFiles({});
  kubeconfig = join(dir, "kubeconfig");
  await writeFile(kubeconfig, JSON.stringify(merged));
}, 400_000);
afterAll(async () => {
  await a?.stop();
  await b?.stop();
  await bus?.close();
  await nats?.stop();
});

const image = async (cluster: DeployCluster, name: string) =>
  (
    await getObject<{ spec: { template: { spec: { containers: { image: string }[] } } } }>(
      cluster.api,
      `/apis/apps/v1/namespaces/${NS}/deployments/${name}`,
    )
  )?.spec.template.spec.containers[0]?.image;
const component = (cluster: DeployCluster, name: string) =>
  getObject(cluster.api, `/apis/tessera.dev/v1alpha1/namespaces/${NS}/components/${name}`);

describe("tessera deploy: groups and several clusters", () => {
  it(
    "deploys a group to a then b, and rolls a failing group back on a without touching b",
    { timeout: 600_000 },
    async () => {
      const dir = await tempFiles({
        "alpha1.yaml": manifest("alpha", "example/alpha:1"),
        "beta1.yaml": manifest("beta", "example/beta:1"),
        "alpha2.yaml": manifest("alpha", "example/alpha:2"),
        "beta2.yaml": manifest("beta", "example/beta:2"),
        "gamma.yaml": manifest("gamma", "example/gamma:1", 1),
      });
      const files = (...names: string[]) => names.map((n) => join(dir, n));

      const first = await runTessera(
        [
          "deploy",
          ...files("alpha1.yaml", "beta1.yaml"),
          "--kubeconfig",
          kubeconfig,
          "--context",
          "a,b",
          "--timeout",
          "3m",
        ],
        { env: { USER: "ada" } },
      );
      console.log(`$ tessera deploy alpha beta --context a,b (exit ${first.code})\n${first.stdout}${first.stderr}`);
      expect(first.code, first.stderr).toBe(0);
      expect(first.stdout).toMatch(/^context a \(https:\S+\), namespace docs: deployed$/m);
      expect(first.stdout).toMatch(/^context b \(https:\S+\), namespace docs: deployed$/m);
      for (const c of [a, b]) {
        expect(await image(c, "alpha")).toBe("example/alpha:1");
        expect(await image(c, "beta")).toBe("example/beta:1");
      }

      const failing = await runTessera(
        [
          "deploy",
          ...files("alpha2.yaml", "beta2.yaml", "gamma.yaml"),
          "--kubeconfig",
          kubeconfig,
          "--context",
          "a,b",
          "--timeout",
          "40s",
        ],
        { env: { USER: "ada" } },
      );
      console.log(
        `$ tessera deploy alpha beta gamma --context a,b (exit ${failing.code})\n${failing.stdout}${failing.stderr}`,
      );
      expect(failing.code).toBe(1);
      expect(failing.stdout).toMatch(/^context a \(https:\S+\), namespace docs: rolled-back$/m);
      expect(failing.stdout).toMatch(/^alpha\s+updated\s+.*rolled-back\s+ready: .*rolled back/m);
      expect(failing.stdout).toMatch(/^gamma\s+created\s+-\s+deleted\s+timed-out: /m);
      expect(failing.stdout).toMatch(/^context b \(https:\S+\), namespace docs: not-attempted$/m);
      expect(failing.stderr).toMatch(/a: not all ready \(gamma\), the group was rolled back; b: not-attempted/);

      // a: the previous revisions again, gamma deleted (once the controller removed its stream finalizer).
      await waitFor(
        "alpha re-pointed on a",
        async () => ((await image(a, "alpha")) === "example/alpha:1" ? true : undefined),
        60_000,
        100,
      );
      expect(failing.stdout).toMatch(/^beta\s+updated\s+.*rolled back .*\(Deployment re-pointed\)$/m);
      expect(await image(a, "beta")).toBe("example/beta:1");
      await waitFor(
        "gamma deleted on a",
        async () => ((await component(a, "gamma")) === undefined ? true : undefined),
        60_000,
        100,
      );
      // b: untouched.
      expect(await image(b, "alpha")).toBe("example/alpha:1");
      expect(await component(b, "gamma")).toBeUndefined();
    },
  );
});
