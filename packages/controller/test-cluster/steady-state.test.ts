import { connectJetStreamBus, type Bus } from "@tessera/bus";
import { startNatsServer, waitFor, type NatsServerHandle } from "@tessera/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { COMPONENT_GROUP, COMPONENT_PLURAL, COMPONENT_VERSION } from "../src/crd/index.js";
import { startController } from "../src/reconcile/controller.js";
import { KubeAccess } from "../src/reconcile/kube-access.js";
import { IN_CLUSTER_NATS, realBackend, type ApiBackend } from "./cluster-env.js";

const COUNT = Number(process.env["TESSERA_STEADY_COUNT"] ?? 100);
const RESYNCS = 3;
const NS = "fleet";
const render = IN_CLUSTER_NATS;
const LISTS = {
  components: `/apis/${COMPONENT_GROUP}/${COMPONENT_VERSION}/namespaces/${NS}/${COMPONENT_PLURAL}`,
  deployments: `/apis/apps/v1/namespaces/${NS}/deployments`,
  scaledobjects: `/apis/keda.sh/v1alpha1/namespaces/${NS}/scaledobjects`,
  networkpolicies: `/apis/networking.k8s.io/v1/namespaces/${NS}/networkpolicies`,
  // Each Component's hashed config and its one deploy revision (decision 0038).
  configmaps: `/api/v1/namespaces/${NS}/configmaps`,
  controllerrevisions: `/apis/apps/v1/namespaces/${NS}/controllerrevisions`,
};
const MUTATING = new Set(["POST", "PUT", "PATCH", "APPLY", "DELETE", "DELETECOLLECTION"]);

interface Item {
  metadata: { name: string; resourceVersion: string; managedFields?: unknown };
  status?: { conditions?: { type: string; status: string }[] };
}

let api: ApiBackend;
let nats: NatsServerHandle;
let bus: Bus;
// No controller-manager: nothing but the controller writes these objects, so any change is the controller's.
beforeAll(async () => {
  [api, nats] = await Promise.all([realBackend(), startNatsServer()]);
  bus = await connectJetStreamBus({ servers: nats.url, provision: true, name: "cluster-steady" });
  await api.createNamespace(NS);
});
afterAll(async () => {
  await bus?.close();
  await nats?.stop();
  await api?.stop();
});

/** resourceVersion and managedFields of every object the controller writes, by resource and name. */
async function snapshot(): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const [resource, path] of Object.entries(LISTS)) {
    const res = await api.request("GET", path);
    for (const item of (res.body as { items: Item[] }).items)
      out[`${resource}/${item.metadata.name}`] = JSON.stringify([
        item.metadata.resourceVersion,
        item.metadata.managedFields,
      ]);
  }
  return out;
}

/**
 * Mutating requests the API server received for those resources, from its own counter
 * (apiserver_request_total): it counts no-op writes too, which resourceVersions would not show.
 */
async function serverWrites(): Promise<number> {
  const text = (await api.request("GET", "/metrics")).body as string;
  let total = 0;
  for (const line of text.split("\n")) {
    if (!line.startsWith("apiserver_request_total{")) continue;
    const verb = /verb="([A-Z]+)"/.exec(line)?.[1] ?? "";
    const resource = /resource="([a-z]+)"/.exec(line)?.[1] ?? "";
    if (MUTATING.has(verb) && resource in LISTS) total += Number(line.slice(line.lastIndexOf(" ") + 1));
  }
  return total;
}

describe("steady state on a real API server", () => {
  it(`converges ${COUNT} Components, then ${RESYNCS} full resyncs write nothing`, async () => {
    const controller = startController({
      kube: new KubeAccess(api.kubeConfig),
      streams: bus,
      render,
      concurrency: 8,
      resyncMs: 3_600_000,
    });
    const names = Array.from({ length: COUNT }, (_, i) => `steady-${i}`);
    try {
      const started = performance.now();
      for (const name of names) {
        const res = await api.request("POST", LISTS.components, {
          apiVersion: `${COMPONENT_GROUP}/${COMPONENT_VERSION}`,
          kind: "Component",
          metadata: { name },
          spec: { image: "example/worker:1", scaling: { minReplicas: 0, maxReplicas: 3, queueDepthTarget: 5 } },
        });
        expect(res.status, JSON.stringify(res.body)).toBe(201);
      }
      let ready = 0;
      const progress = setInterval(
        () => console.log(JSON.stringify({ converging: ready, of: COUNT, counters: controller.counters })),
        10_000,
      );
      try {
        await waitFor(
          `${COUNT} Components to report StreamReady`,
          async () => {
            const items = ((await api.request("GET", LISTS.components)).body as { items: Item[] }).items;
            ready = items.filter((c) =>
              c.status?.conditions?.some((x) => x.type === "StreamReady" && x.status === "True"),
            ).length;
            return ready === COUNT;
          },
          // Minutes, not seconds, on a loaded 2-core machine: each reconcile is ~11 requests, each a new TLS
          // connection with @kubernetes/client-node 2.0.1 (it makes a new undici Agent per request).
          600_000,
          500,
        );
      } finally {
        clearInterval(progress);
      }
      const phase = (what: string): void => console.log(JSON.stringify({ phase: what, counters: controller.counters }));
      phase("converged; waiting for the queue to empty");
      await controller.idle();
      const convergeMs = Math.round(performance.now() - started);
      const before = await snapshot();
      expect(Object.keys(before)).toHaveLength(COUNT * 7);
      const writesBefore = await serverWrites();
      const counters = { ...controller.counters };

      const resyncStarted = performance.now();
      for (let i = 0; i < RESYNCS; i++) {
        phase(`resync ${i + 1}`);
        await controller.resync();
        await new Promise((r) => setTimeout(r, 50));
        await controller.idle();
      }
      const resyncMs = Math.round((performance.now() - resyncStarted) / RESYNCS);
      const writes = (await serverWrites()) - writesBefore;
      expect(await snapshot()).toEqual(before);
      expect(writes).toBe(0);
      // Every pass was a skip: no apply, no status or finalizer write. (More passes than the resyncs may run: a
      // watch the API server ends is followed by a fresh list, which enqueues every Component again.)
      const { skipped, ...writesBy } = controller.counters;
      expect(writesBy).toEqual({
        applies: counters.applies,
        statusWrites: counters.statusWrites,
        finalizerWrites: counters.finalizerWrites,
        deletes: counters.deletes,
      });
      expect(skipped).toBeGreaterThanOrEqual(counters.skipped + 4 * COUNT * RESYNCS);
      console.log(
        JSON.stringify({
          apiServer: "kube-apiserver",
          components: COUNT,
          convergeMs,
          resyncs: RESYNCS,
          resyncMs,
          steadyStateWrites: writes,
          applies: controller.counters.applies,
          skipped: controller.counters.skipped,
          statusWrites: controller.counters.statusWrites,
        }),
      );
    } finally {
      await controller.stop();
      await Promise.all(names.map((n) => bus.removeComponent(n).catch(() => undefined)));
    }
  }, 1_800_000);
});
