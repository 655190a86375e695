import { spawn, type ChildProcess } from "node:child_process";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import * as k8s from "@kubernetes/client-node";
import { startFakeKubeApi, type FakeKubeApi } from "@tessera/kube-fake";
import { ReconcileTrace } from "@tessera/controller";
import {
  OtlpSpanKind,
  freePort,
  startNatsServer,
  startOtlpReceiver,
  waitFor,
  type NatsServerHandle,
  type OtlpReceiver,
} from "@tessera/testkit";
import { stringify } from "yaml";
import { afterEach, describe, expect, it } from "vitest";
import { runTessera } from "./helpers/run-tessera.js";
import { tempFiles } from "./helpers/temp-files.js";

const bin = fileURLToPath(new URL("../bin/tessera.js", import.meta.url));

async function readyz(port: number): Promise<number> {
  try {
    return (await fetch(`http://127.0.0.1:${port}/readyz`)).status;
  } catch {
    return 0;
  }
}

describe("tessera controller (a real process against the in-memory API and a real nats-server)", () => {
  let child: ChildProcess | undefined;
  let fake: FakeKubeApi | undefined;
  let nats: NatsServerHandle | undefined;
  let otlp: OtlpReceiver | undefined;
  afterEach(async () => {
    child?.kill("SIGTERM");
    await otlp?.close();
    await fake?.close();
    await nats?.stop();
  });

  it("is ready once it listed and NATS answers, reconciles a new Component, and is not ready while NATS is down", async () => {
    nats = await startNatsServer();
    fake = await startFakeKubeApi({ namespaces: "auto" });
    otlp = await startOtlpReceiver();
    const options = fake.kubeConfigOptions("default");
    const cluster = options.clusters[0] as { name: string; server: string };
    const kubeconfig = {
      apiVersion: "v1",
      kind: "Config",
      clusters: [{ name: cluster.name, cluster: { server: cluster.server, "insecure-skip-tls-verify": true } }],
      users: options.users.map((u) => ({ name: u.name, user: { token: u.token } })),
      contexts: options.contexts.map((c) => ({
        name: c.name,
        context: { cluster: c.cluster, user: c.user, namespace: c.namespace },
      })),
      "current-context": options.currentContext,
    };
    const dir = await tempFiles({});
    await writeFile(join(dir, "kubeconfig"), stringify(kubeconfig));
    const port = await freePort();
    child = spawn(
      process.execPath,
      [
        bin,
        "controller",
        "--kubeconfig",
        join(dir, "kubeconfig"),
        "--nats",
        nats.url,
        "--nats-monitoring",
        "nats.nats.svc:8222",
        "--port",
        String(port),
      ],
      {
        stdio: ["ignore", "ignore", "pipe"],
        env: {
          ...process.env,
          TESSERA_VERSION: "0.9.1",
          TESSERA_COMMIT: "deadbee",
          OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url,
          OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
          OTEL_BSP_SCHEDULE_DELAY: "100",
        },
      },
    );
    let stderr = "";
    child.stderr?.on("data", (b: Buffer) => (stderr += b.toString()));

    await waitFor(`/readyz 200 (controller log: ${stderr})`, async () => (await readyz(port)) === 200, 30_000, 100);
    const kc = await fake.kubeConfig();
    await kc.makeApiClient(k8s.CustomObjectsApi).createNamespacedCustomObject({
      group: "tessera.dev",
      version: "v1alpha1",
      namespace: "docs",
      plural: "components",
      body: {
        apiVersion: "tessera.dev/v1alpha1",
        kind: "Component",
        metadata: { name: "extract", namespace: "docs" },
        spec: { image: "example/extract:1" },
      },
    });
    await waitFor(
      "the rendered Deployment",
      () =>
        fake?.store.get({ apiVersion: "apps/v1", kind: "Deployment", namespace: "docs", name: "extract" }) !==
        undefined,
      15_000,
    );
    // /metrics on the same port: the reconcile counted once it finished (after the Deployment), NATS reachable.
    const metrics = async (): Promise<string> => (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    await waitFor(
      "a successful reconcile on /metrics",
      async () => /^tessera_controller_reconciles_total\{outcome="ok"\} [1-9]/m.test(await metrics()),
      15_000,
    );
    expect(await metrics()).toMatch(/^tessera_controller_nats_reachable 1$/m);
    // With OTEL_* set, the controller exports a span per reconcile.
    const reconciled = await waitFor(
      "the reconcile's span at the OTLP receiver",
      () =>
        otlp
          ?.spans()
          .find((s) => s.name === ReconcileTrace.span && s.attributes[ReconcileTrace.component] === "extract"),
      15_000,
    );
    expect(reconciled).toMatchObject({
      kind: OtlpSpanKind.internal,
      resource: { "service.name": "tessera-controller" },
      attributes: { [ReconcileTrace.namespace]: "docs", [ReconcileTrace.outcome]: "ok" },
    });
    expect(otlp?.rejected()).toEqual([]);
    // The build, from one source: /healthz, tessera_build_info and the rendered objects' annotations.
    expect(await (await fetch(`http://127.0.0.1:${port}/healthz`)).json()).toEqual({
      status: "ok",
      version: "0.9.1",
      commit: "deadbee",
    });
    expect(await metrics()).toMatch(/^tessera_build_info\{version="0\.9\.1",commit="deadbee"\} 1$/m);
    expect(
      fake.store.get({ apiVersion: "apps/v1", kind: "Deployment", namespace: "docs", name: "extract" })?.metadata?.[
        "annotations"
      ],
    ).toEqual({
      "tessera.dev/version": "0.9.1",
      "tessera.dev/commit": "deadbee",
      "tessera.dev/maturity": "experimental",
    });

    await nats.kill();
    await waitFor("/readyz 503 while NATS is down", async () => (await readyz(port)) === 503, 20_000, 100);
    expect(await (await fetch(`http://127.0.0.1:${port}/readyz`)).text()).toContain("NATS unreachable");
    // The same fact on /metrics, for the TesseraNatsUnreachable alert.
    expect(await metrics()).toMatch(/^tessera_controller_nats_reachable 0$/m);
    await nats.restart();
    await waitFor("/readyz 200 again", async () => (await readyz(port)) === 200, 30_000, 100);
  }, 90_000);

  it("refuses to start without the NATS settings, naming the flag", async () => {
    const missing = await runTessera(["controller"]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("--nats (or NATS_URL) is required");
  });

  it("refuses leader-election timings where the renew deadline is not shorter than the lease", async () => {
    const bad = await runTessera([
      "controller",
      "--nats",
      "nats://127.0.0.1:4222",
      "--nats-monitoring",
      "127.0.0.1:8222",
      "--lease-duration-seconds",
      "10",
      "--renew-deadline-seconds",
      "10",
    ]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain(
      "--retry-period-seconds (2) < --renew-deadline-seconds (10) < --lease-duration-seconds (10) must hold",
    );
  });
});
