import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startControlPlane, waitFor, type ControlPlane } from "../src/index.js";

/** Running, not a zombie: a server whose parent died is reaped by init, which a container may not do at once. */
const alive = (pid: number): boolean => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
  } catch {
    return false;
  }
};

describe("startControlPlane", () => {
  let cp: ControlPlane;
  beforeAll(async () => {
    cp = await startControlPlane({ controllerManager: true });
  });
  afterAll(async () => {
    await cp?.stop();
  });

  it("serves on 127.0.0.1 with the admin kubeconfig, RBAC and Pod Security Admission on", async () => {
    expect(cp.server).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    expect(cp.kubeconfig.clusters[0]?.cluster.server).toBe(cp.server);
    const version = await cp.request("GET", "/version");
    expect(version.status).toBe(200);
    expect((version.body as { gitVersion: string }).gitVersion).toBe(cp.binaries.versions["kube-apiserver"]);
    // A token of a ServiceAccount with no roles is authenticated (the signing keys work) and refused (RBAC).
    expect((await cp.request("POST", "/api/v1/namespaces", { metadata: { name: "harness" } })).status).toBe(201);
    expect(
      (await cp.request("POST", "/api/v1/namespaces/harness/serviceaccounts", { metadata: { name: "nobody" } })).status,
    ).toBe(201);
    const token = await cp.request("POST", "/api/v1/namespaces/harness/serviceaccounts/nobody/token", {
      spec: { expirationSeconds: 600 },
    });
    expect(token.status).toBe(201);
    const refused = await cp.requestAs(
      (token.body as { status: { token: string } }).status.token,
      "GET",
      "/api/v1/namespaces/harness/pods",
    );
    expect(refused.status).toBe(403);
    expect(JSON.stringify(refused.body)).toContain("system:serviceaccount:harness:nobody");
    // Pod Security Admission: a privileged pod in a restricted namespace is refused at admission.
    await cp.request("POST", "/api/v1/namespaces", {
      metadata: { name: "harness-restricted", labels: { "pod-security.kubernetes.io/enforce": "restricted" } },
    });
    // The ServiceAccount admission plugin needs the namespace's default ServiceAccount (the controller-manager's).
    await waitFor(
      "the default ServiceAccount",
      async () =>
        (await cp.request("GET", "/api/v1/namespaces/harness-restricted/serviceaccounts/default")).status === 200,
      30_000,
    );
    const pod = await cp.request("POST", "/api/v1/namespaces/harness-restricted/pods", {
      metadata: { name: "p" },
      spec: { containers: [{ name: "c", image: "x", securityContext: { privileged: true } }] },
    });
    expect(pod.status).toBe(403);
    expect((pod.body as { message: string }).message).toContain('violates PodSecurity "restricted:latest"');
  });

  it("runs the controller-manager: the ServiceAccount controller and the garbage collector", async () => {
    await cp.request("POST", "/api/v1/namespaces", { metadata: { name: "harness-gc" } });
    await waitFor(
      "the default ServiceAccount",
      async () => (await cp.request("GET", "/api/v1/namespaces/harness-gc/serviceaccounts/default")).status === 200,
      30_000,
    );
    const owner = await cp.request("POST", "/api/v1/namespaces/harness-gc/configmaps", { metadata: { name: "owner" } });
    const uid = (owner.body as { metadata: { uid: string } }).metadata.uid;
    await cp.request("POST", "/api/v1/namespaces/harness-gc/configmaps", {
      metadata: { name: "dependent", ownerReferences: [{ apiVersion: "v1", kind: "ConfigMap", name: "owner", uid }] },
    });
    await cp.request("DELETE", "/api/v1/namespaces/harness-gc/configmaps/owner");
    await waitFor(
      "the garbage collector to delete the dependent",
      async () => (await cp.request("GET", "/api/v1/namespaces/harness-gc/configmaps/dependent")).status === 404,
      60_000,
    );
  });
});

describe("reaping", () => {
  it("kills every server when the test process is SIGKILLed", async () => {
    const script = fileURLToPath(new URL("./fixtures/start-and-hang.ts", import.meta.url));
    const child = spawn(process.execPath, ["--conditions=@tessera/source", "--import", "tsx", script], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    let out = "";
    child.stdout.on("data", (c: Buffer) => (out += c.toString()));
    const started = await waitFor(
      "the child's control plane",
      () => {
        const line = out.split("\n").find((l) => l.startsWith("{"));
        return line === undefined ? undefined : (JSON.parse(line) as { pids: number[]; dir: string });
      },
      120_000,
      100,
    );
    expect(started.pids.every(alive)).toBe(true);
    const exited = new Promise((resolve) => child.once("exit", resolve));
    child.kill("SIGKILL");
    await exited;
    // The parent-death signal reaches the servers at once; the folder goes with the next start in this process.
    await waitFor("the servers to die", () => started.pids.every((pid) => !alive(pid)), 10_000);
    expect(existsSync(started.dir)).toBe(true);
    const next = await startControlPlane();
    await next.stop();
    expect(existsSync(started.dir)).toBe(false);
  });
});
