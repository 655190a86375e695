import { connectJetStreamBus, type Bus, type Subscription } from "@tessera/bus";
import { durableConsumerName, jobStreamName } from "@tessera/contract";
import { startNatsServer, waitFor, type NatsServerHandle } from "@tessera/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { COMPONENT_GROUP, COMPONENT_PLURAL, COMPONENT_VERSION } from "../src/crd/index.js";
import type { RenderContext } from "../src/render/context.js";
import { renderComponent } from "../src/render/render-component.js";
import { startController, type Controller } from "../src/reconcile/controller.js";
import { KubeAccess, type KubeObjectLike } from "../src/reconcile/kube-access.js";
import { realBackend, type ApiBackend } from "./cluster-env.js";

// The real KEDA operator against a real nats-server: no metrics apiserver and no kubelet, so the HPA gets no
// metrics and pods never run; 0 → 1 and back to 0 are the operator's own decisions, which is what is tested.
const NS = "scale";
const NAME = "lagged";
const COOLDOWN_S = 5;
/** The component's `scaling.pollingInterval`, and the broken copies' (KEDA's default is 30 s). */
const POLL_S = 2;

let api: ApiBackend;
let nats: NatsServerHandle;
let bus: Bus;
let controller: Controller;
let render: RenderContext;
beforeAll(async () => {
  [api, nats] = await Promise.all([realBackend({ controllerManager: true, keda: true }), startNatsServer()]);
  bus = await connectJetStreamBus({ servers: nats.url, provision: true, name: "cluster-keda" });
  await api.createNamespace(NS);
  render = {
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

const replicas = async (name: string): Promise<number | undefined> => {
  const res = await api.request("GET", `/apis/apps/v1/namespaces/${NS}/deployments/${name}`);
  return res.status === 200 ? (res.body as { spec: { replicas?: number } }).spec.replicas : undefined;
};
const waitReplicas = async (name: string, want: (n: number) => boolean, what: string, timeoutMs: number) =>
  waitFor(what, async () => want((await replicas(name)) ?? -1), timeoutMs, 250);

/**
 * A copy of what the controller renders for `name`, scaling on the lagged component's stream but broken the
 * way TMI's production was, with its Deployment starting at 0 replicas. Applied as the admin: no Component
 * owns it, so the controller leaves it alone.
 */
async function tmiCopy(name: string, breakIt: (trigger: Record<string, string>) => void): Promise<void> {
  const rendered = renderComponent(
    { name, namespace: NS, spec: { image: "example/worker:1", inputMode: "content-ref", egress: "none" } },
    render,
  );
  const deployment = structuredClone(rendered.deployment) as unknown as KubeObjectLike & {
    spec: { replicas?: number };
  };
  deployment.spec.replicas = 0;
  const scaled = structuredClone(rendered.scaledObject) as unknown as KubeObjectLike & {
    spec: {
      pollingInterval?: number;
      cooldownPeriod?: number;
      minReplicaCount?: number;
      triggers: { metadata: Record<string, string> }[];
    };
  };
  const trigger = scaled.spec.triggers[0]!.metadata;
  trigger["stream"] = jobStreamName(NAME);
  trigger["consumer"] = durableConsumerName(NAME);
  breakIt(trigger);
  scaled.spec.pollingInterval = POLL_S;
  scaled.spec.cooldownPeriod = COOLDOWN_S;
  const kube = new KubeAccess(api.kubeConfig);
  await kube.apply(deployment);
  await kube.apply(scaled);
}

async function kedaErrors(scaledObject: string): Promise<number> {
  const text = await (await fetch(api.controlPlane!.kedaMetricsUrl!)).text();
  return text
    .split("\n")
    .filter((l) => l.startsWith("keda_scaler_detail_errors_total{") && l.includes(`scaledObject="${scaledObject}"`))
    .reduce((sum, l) => sum + Number(l.slice(l.lastIndexOf(" ") + 1)), 0);
}

describe("KEDA for real", () => {
  it("turns the rendered ScaledObject into an HPA and scales 0 → 1 → 0 on the consumer's lag; TMI's two bugs fail", async () => {
    const path = `/apis/${COMPONENT_GROUP}/${COMPONENT_VERSION}/namespaces/${NS}/${COMPONENT_PLURAL}`;
    const created = await api.request("POST", path, {
      apiVersion: `${COMPONENT_GROUP}/${COMPONENT_VERSION}`,
      kind: "Component",
      metadata: { name: NAME },
      spec: {
        image: "example/worker:1",
        scaling: {
          minReplicas: 0,
          maxReplicas: 2,
          queueDepthTarget: 5,
          cooldownPeriod: `${COOLDOWN_S}s`,
          pollingInterval: `${POLL_S}s`,
        },
      },
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const hpa = await waitFor(
      "KEDA's HPA",
      async () => {
        const res = await api.request(
          "GET",
          `/apis/autoscaling/v2/namespaces/${NS}/horizontalpodautoscalers/keda-hpa-${NAME}`,
        );
        return res.status === 200
          ? (res.body as { spec: { minReplicas: number; maxReplicas: number; metrics: { type: string }[] } })
          : undefined;
      },
      60_000,
      250,
    );
    expect(hpa.spec).toMatchObject({ minReplicas: 1, maxReplicas: 2 });
    expect(hpa.spec.metrics[0]?.type).toBe("External");
    const scaled = await api.request("GET", `/apis/keda.sh/v1alpha1/namespaces/${NS}/scaledobjects/${NAME}`);
    expect((scaled.body as { spec: Record<string, unknown> }).spec).toMatchObject({
      pollingInterval: POLL_S,
      cooldownPeriod: COOLDOWN_S,
    });
    // Idle from the start: the API server defaulted replicas to 1, KEDA takes it to 0.
    await waitReplicas(NAME, (n) => n === 0, "KEDA to scale the idle Deployment to 0", 90_000);

    // TMI bug 1: the consumer is not pre-created (the worker would create it, but no worker runs at 0).
    await tmiCopy("tmi-consumer", (t) => (t["consumer"] = "created-by-the-worker-later"));
    // TMI bug 2: the monitoring endpoint carries a scheme; KEDA adds its own and asks http://http://…
    await tmiCopy("tmi-scheme", (t) => (t["natsServerMonitoringEndpoint"] = `http://${nats.monitoringHostPort}`));

    const queued = performance.now();
    for (let i = 0; i < 3; i++) await bus.publishRawJob(NAME, new TextEncoder().encode(`{"n":${i}}`));
    await waitReplicas(NAME, (n) => n >= 1, "KEDA to activate the Deployment (0 → 1)", 90_000);
    const activationMs = Math.round(performance.now() - queued);
    // The scheme copy errs on every poll and stays at 0.
    await waitFor(
      "KEDA to count the scheme copy's failed polls",
      async () => (await kedaErrors("tmi-scheme")) > 0,
      30_000,
      250,
    );
    expect(await replicas("tmi-scheme")).toBe(0);

    // Act as the worker: take and ack every job, so the consumer's lag drops to 0.
    const sub: Subscription = await bus.consumeJobs(NAME, { maxInFlight: 10 }, (d) => d.ack());
    await waitFor("the queue to drain", async () => (await bus.queueDepth(NAME)).total === 0, 30_000, 100);
    await sub.stop();
    const drained = performance.now();
    await waitReplicas(
      NAME,
      (n) => n === 0,
      `KEDA to return the Deployment to 0 after the ${COOLDOWN_S} s cooldown`,
      120_000,
    );
    const deactivationMs = Math.round(performance.now() - drained);

    // Without the durable consumer KEDA falls back to the stream's last sequence, which never drops: it woke
    // the copy up and keeps it up although the queue is empty.
    await waitReplicas("tmi-consumer", (n) => n >= 1, "KEDA to wake the copy without a consumer", 30_000);
    await new Promise((r) => setTimeout(r, (POLL_S + COOLDOWN_S + 2) * 1000));
    expect(await replicas("tmi-consumer")).toBeGreaterThanOrEqual(1);
    expect(await replicas("tmi-scheme")).toBe(0);
    console.log(
      JSON.stringify({
        keda: api.controlPlane?.binaries.versions["keda"],
        activationMs,
        deactivationMs,
        cooldownS: COOLDOWN_S,
        pollS: POLL_S,
      }),
    );
  }, 420_000);
});
