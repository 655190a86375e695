/**
 * A canary on the real control plane (kube-apiserver, kube-controller-manager's garbage collector, the KEDA
 * operator) and a real nats-server: the controller renders the second Deployment and ScaledObject, KEDA
 * activates both from the one consumer's lag, and the real `tessera abort` / `tessera promote` processes end
 * the canary, the controller deleting its objects (foreground, so the GC must run) until it converges.
 */
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { connectJetStreamBus, type Bus } from "@tessera/bus";
import { REVISION_ENV, canaryWorkloadName, durableConsumerName, type ComponentSpec } from "@tessera/contract";
import { startNatsServer, waitFor, type NatsServerHandle } from "@tessera/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { COMPONENT_GROUP, COMPONENT_PLURAL, COMPONENT_VERSION } from "../src/crd/index.js";
import type { RenderContext } from "../src/render/context.js";
import { startController, type Controller } from "../src/reconcile/controller.js";
import { KubeAccess } from "../src/reconcile/kube-access.js";
import { realBackend, type ApiBackend } from "./cluster-env.js";

const NS = "canary";
const NAME = "extract";
const CANARY = canaryWorkloadName(NAME);
const COMPONENT = `/apis/${COMPONENT_GROUP}/${COMPONENT_VERSION}/namespaces/${NS}/${COMPONENT_PLURAL}/${NAME}`;
const deploymentPath = (name: string) => `/apis/apps/v1/namespaces/${NS}/deployments/${name}`;
const scaledObjectPath = (name: string) => `/apis/keda.sh/v1alpha1/namespaces/${NS}/scaledobjects/${name}`;
const tessera = fileURLToPath(new URL("../../cli/bin/tessera.js", import.meta.url));

const spec: ComponentSpec = {
  image: "example/extract:1",
  inputMode: "content-ref",
  egress: "none",
  config: { MODE: "fast" },
  scaling: { minReplicas: 0, maxReplicas: 4, queueDepthTarget: 5, cooldownPeriod: "300s", pollingInterval: "2s" },
  canary: { image: "example/extract:2", config: { MODE: "careful" }, weight: 25 },
};

interface Workload {
  metadata: { deletionTimestamp?: string };
  spec: {
    replicas?: number;
    selector: { matchLabels: Record<string, string> };
    template: {
      spec: {
        containers: {
          image: string;
          env?: { name: string; value?: string; valueFrom?: { configMapKeyRef?: { name: string; key: string } } }[];
        }[];
      };
    };
  };
}

let api: ApiBackend;
let nats: NatsServerHandle;
let bus: Bus;
let controller: Controller;
beforeAll(async () => {
  [api, nats] = await Promise.all([realBackend({ controllerManager: true, keda: true }), startNatsServer()]);
  bus = await connectJetStreamBus({ servers: nats.url, provision: true, name: "cluster-canary" });
  await api.createNamespace(NS);
  const render: RenderContext = {
    nats: {
      url: nats.url,
      monitoringEndpoint: nats.monitoringHostPort,
      namespace: "nats",
      podLabels: { "app.kubernetes.io/name": "nats" },
    },
  };
  controller = startController({ kube: new KubeAccess(api.kubeConfig), streams: bus, render, concurrency: 2 });
});
afterAll(async () => {
  await controller?.stop();
  await bus?.close();
  await nats?.stop();
  await api?.stop();
});

async function get<T>(path: string): Promise<T | undefined> {
  const res = await api.request("GET", path);
  if (res.status === 404) return undefined;
  if (res.status !== 200) throw new Error(`GET ${path}: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body as T;
}
const gone = (path: string, what: string) =>
  waitFor(what, async () => ((await get(path)) === undefined ? true : undefined), 60_000, 100);

/** The real `tessera` command, as a separate process with the control plane's kubeconfig. */
function runTessera(
  args: string[],
): Promise<{ code: number | null; stdout: string; stderr: string; ms: number; afterWriteMs: number }> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [tessera, ...args], {
      env: { ...process.env, KUBECONFIG: api.controlPlane!.kubeconfigPath },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    // The first line is printed right after the Component is written: the rest is the controller's convergence.
    let written = 0;
    child.stdout.on("data", (b: Buffer) => {
      if (written === 0) written = performance.now();
      stdout += b.toString();
    });
    child.stderr.on("data", (b: Buffer) => (stderr += b.toString()));
    child.on("error", reject);
    child.on("close", (code) =>
      resolve({
        code,
        stdout,
        stderr,
        ms: Math.round(performance.now() - started),
        afterWriteMs: Math.round(performance.now() - written),
      }),
    );
  });
}

async function putSpec(next: ComponentSpec): Promise<void> {
  const live = (await get<{ metadata: Record<string, unknown> }>(COMPONENT))!;
  const res = await api.request("PUT", COMPONENT, { ...live, spec: next });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
}

/** The env a workload's pods get: config keys read from its content-hashed ConfigMap on the API server. */
async function envOf(w: Workload): Promise<Record<string, string | undefined>> {
  const out: Record<string, string | undefined> = {};
  for (const e of w.spec.template.spec.containers[0]?.env ?? []) {
    const ref = e.valueFrom?.configMapKeyRef;
    if (ref === undefined) out[e.name] = e.value;
    else
      out[e.name] = (await get<{ data?: Record<string, string> }>(`/api/v1/namespaces/${NS}/configmaps/${ref.name}`))
        ?.data?.[ref.key];
  }
  return out;
}

describe("a canary on the real control plane", () => {
  // Two `tessera` processes start through tsx: on a loaded machine each can take a minute before it runs.
  it(
    "renders two Deployments on one consumer, KEDA activates both from its lag, and abort then promote converge",
    {
      timeout: 420_000,
    },
    async () => {
      const created = await api.request(
        "POST",
        `/apis/${COMPONENT_GROUP}/${COMPONENT_VERSION}/namespaces/${NS}/${COMPONENT_PLURAL}`,
        { apiVersion: `${COMPONENT_GROUP}/${COMPONENT_VERSION}`, kind: "Component", metadata: { name: NAME }, spec },
      );
      expect(created.status, JSON.stringify(created.body)).toBe(201);
      const canary = await waitFor("the canary Deployment", () => get<Workload>(deploymentPath(CANARY)), 60_000, 100);
      const stable = (await get<Workload>(deploymentPath(NAME)))!;
      expect(canary.spec.template.spec.containers[0]?.image).toBe("example/extract:2");
      expect(await envOf(canary)).toMatchObject({ MODE: "careful", [REVISION_ENV]: "canary" });
      expect(stable.spec.template.spec.containers[0]?.image).toBe("example/extract:1");
      expect(await envOf(stable)).not.toHaveProperty(REVISION_ENV);
      const scaled = await waitFor("both ScaledObjects", async () => {
        const both = await Promise.all([NAME, CANARY].map((n) => get<Record<string, never>>(scaledObjectPath(n))));
        return both.every((s) => s !== undefined)
          ? (both as unknown as { spec: Record<string, unknown> }[])
          : undefined;
      });
      const trigger = (s: { spec: Record<string, unknown> }) =>
        (s.spec["triggers"] as { metadata: Record<string, string> }[])[0]!.metadata;
      expect(scaled.map((s) => trigger(s)["consumer"])).toEqual([durableConsumerName(NAME), durableConsumerName(NAME)]);
      expect(scaled.map((s) => [s.spec["maxReplicaCount"], trigger(s)["lagThreshold"]])).toEqual([
        [3, "7"],
        [1, "20"],
      ]);

      // Idle: KEDA takes both to 0; one waiting job activates both (each gets a worker, whatever the weight).
      const replicas = async (name: string) => (await get<Workload>(deploymentPath(name)))?.spec.replicas ?? -1;
      await waitFor(
        "KEDA to scale both idle Deployments to 0",
        async () => ((await replicas(NAME)) === 0 && (await replicas(CANARY)) === 0 ? true : undefined),
        120_000,
        250,
      );
      for (let i = 0; i < 3; i++) await bus.publishRawJob(NAME, new TextEncoder().encode(`{"n":${i}}`));
      await waitFor(
        "KEDA to activate both Deployments from the one consumer",
        async () => ((await replicas(NAME)) >= 1 && (await replicas(CANARY)) >= 1 ? true : undefined),
        120_000,
        250,
      );

      const abort = await runTessera(["abort", NAME, "-n", NS, "--wait", "60"]);
      expect(abort.stderr).toBe("");
      expect(abort.code).toBe(0);
      expect(abort.stdout).toContain(`aborted the canary of ${NS}/${NAME}`);
      expect(abort.stdout).toContain(`the controller removed Deployment ${CANARY}`);
      await gone(scaledObjectPath(CANARY), "the canary ScaledObject to be deleted");
      expect((await get<Workload>(deploymentPath(NAME)))?.spec.template.spec.containers[0]?.image).toBe(
        "example/extract:1",
      );
      console.log(
        `tessera abort --wait: ${abort.ms} ms in all, ${abort.afterWriteMs} ms from the write to the canary Deployment gone\n${abort.stdout}`,
      );

      await putSpec(spec);
      await waitFor("the canary again", () => get<Workload>(deploymentPath(CANARY)), 60_000, 100);
      const promote = await runTessera(["promote", NAME, "-n", NS, "--wait", "60"]);
      expect(promote.stderr).toBe("");
      expect(promote.code).toBe(0);
      expect(promote.stdout).toContain(`promoted the canary of ${NS}/${NAME}: image example/extract:2`);
      await gone(scaledObjectPath(CANARY), "the canary ScaledObject to be deleted");
      const promoted = (await get<Workload>(deploymentPath(NAME)))!;
      expect(promoted.spec.template.spec.containers[0]?.image).toBe("example/extract:2");
      expect(await envOf(promoted)).toMatchObject({ MODE: "careful" });
      expect(await envOf(promoted)).not.toHaveProperty(REVISION_ENV);
      const component = (await get<{ spec: ComponentSpec }>(COMPONENT))!;
      expect(component.spec.canary).toBeUndefined();
      expect(component.spec.image).toBe("example/extract:2");
      // The whole scaling is the stable ScaledObject's again.
      const stableScaled = (await get<{ spec: Record<string, unknown> }>(scaledObjectPath(NAME)))!;
      expect([stableScaled.spec["maxReplicaCount"], trigger(stableScaled)["lagThreshold"]]).toEqual([4, "5"]);
      console.log(
        `tessera promote --wait: ${promote.ms} ms in all, ${promote.afterWriteMs} ms from the write to the canary Deployment gone\n${promote.stdout}`,
      );
    },
  );
});
