/**
 * Deploy revisions on the real control plane (kube-apiserver and kube-controller-manager's garbage collector):
 * the controller records a ControllerRevision per new content, its hashed ConfigMap is really immutable, a pruned
 * revision's ConfigMap is collected by the real garbage collector, a rollback re-points the Deployment (timed),
 * and resyncs with revisions present write nothing.
 */
import { connectJetStreamBus, type Bus } from "@tessera/bus";
import {
  CONFIG_HASH_ANNOTATION,
  DEPLOY_PROVENANCE_ANNOTATIONS,
  decodeDeployRevisionData,
  deployRevisionSelector,
  type ComponentSpec,
  type DeployRevisionData,
} from "@tessera/contract";
import { startNatsServer, waitFor, type NatsServerHandle } from "@tessera/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { COMPONENT_GROUP, COMPONENT_PLURAL, COMPONENT_VERSION } from "../src/crd/index.js";
import { startController, type Controller } from "../src/reconcile/controller.js";
import { KubeAccess } from "../src/reconcile/kube-access.js";
import { IN_CLUSTER_NATS, realBackend, type ApiBackend } from "./cluster-env.js";

const NS = "revisions";
const NAME = "extract";
const COMPONENTS = `/apis/${COMPONENT_GROUP}/${COMPONENT_VERSION}/namespaces/${NS}/${COMPONENT_PLURAL}`;
const COMPONENT = `${COMPONENTS}/${NAME}`;
const DEPLOYMENT = `/apis/apps/v1/namespaces/${NS}/deployments/${NAME}`;
const REVISIONS = `/apis/apps/v1/namespaces/${NS}/controllerrevisions?labelSelector=${encodeURIComponent(deployRevisionSelector(NAME))}`;
const configMapPath = (name: string) => `/api/v1/namespaces/${NS}/configmaps/${name}`;

const spec = (mode: string, image = "example/extract:1"): ComponentSpec => ({
  image,
  inputMode: "content-ref",
  egress: "none",
  config: { MODE: mode },
  scaling: { minReplicas: 0, maxReplicas: 2, queueDepthTarget: 5 },
  revisionHistoryLimit: 2,
});

interface Revision {
  metadata: { name: string; resourceVersion: string };
  revision: number;
  data: DeployRevisionData;
}
interface DeploymentObject {
  metadata: { resourceVersion: string };
  spec: { template: { metadata: { annotations?: Record<string, string> }; spec: { containers: { image: string }[] } } };
}

let api: ApiBackend;
let nats: NatsServerHandle;
let bus: Bus;
let controller: Controller;
beforeAll(async () => {
  [api, nats] = await Promise.all([realBackend({ controllerManager: true }), startNatsServer()]);
  bus = await connectJetStreamBus({ servers: nats.url, provision: true, name: "cluster-revisions" });
  await api.createNamespace(NS);
  controller = startController({
    kube: new KubeAccess(api.kubeConfig),
    streams: bus,
    render: IN_CLUSTER_NATS,
    resyncMs: 3_600_000,
  });
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

async function revisions(): Promise<Revision[]> {
  const items = (await get<{ items: Revision[] }>(REVISIONS))!.items;
  for (const item of items) {
    const data = decodeDeployRevisionData(item.data);
    if (!data.ok) throw data.error;
  }
  return items.sort((a, b) => a.revision - b.revision);
}

async function putComponent(next: ComponentSpec, annotations: Record<string, string>): Promise<void> {
  const live = (await get<{ metadata: Record<string, unknown> }>(COMPONENT))!;
  const res = await api.request("PUT", COMPONENT, { ...live, metadata: { ...live.metadata, annotations }, spec: next });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
}

const liveRevision = async () =>
  (await get<{ status?: { revision?: number } }>(COMPONENT))?.status?.revision ?? undefined;
const atRevision = (n: number) =>
  waitFor(`status.revision ${n}`, async () => ((await liveRevision()) === n ? true : undefined), 60_000, 50);

describe("deploy revisions on the real control plane", () => {
  it(
    "records revisions, keeps ConfigMaps immutable, prunes with the GC, rolls back fast, and idles at zero writes",
    {
      timeout: 300_000,
    },
    async () => {
      const provenance = { [DEPLOY_PROVENANCE_ANNOTATIONS.deployedBy]: "ana@example.com" };
      const created = await api.request("POST", COMPONENTS, {
        apiVersion: `${COMPONENT_GROUP}/${COMPONENT_VERSION}`,
        kind: "Component",
        metadata: { name: NAME, annotations: provenance },
        spec: spec("fast"),
      });
      expect(created.status, JSON.stringify(created.body)).toBe(201);
      await atRevision(1);
      const [r1] = await revisions();
      expect(r1?.metadata.name).toBe("extract-r1");
      expect(r1?.data.provenance.deployedBy).toBe("ana@example.com");

      // The API server itself refuses to change an immutable ConfigMap's data.
      const cmPath = configMapPath(r1!.data.config.configMapName);
      const cm = (await get<{ data: Record<string, string>; immutable: boolean }>(cmPath))!;
      expect(cm.immutable).toBe(true);
      const changed = await api.request("PUT", cmPath, { ...cm, data: { MODE: "tampered" } });
      expect(changed.status).toBe(422);
      expect(JSON.stringify(changed.body)).toMatch(/immutable/);

      await putComponent(spec("careful"), provenance);
      await atRevision(2);
      await putComponent(spec("thorough", "example/extract:2"), provenance);
      await atRevision(3);
      // revisionHistoryLimit 2: revision 1 is pruned, and the real garbage collector deletes its ConfigMap.
      await waitFor(
        "revision 1 pruned",
        async () => ((await revisions())[0]?.revision === 2 ? true : undefined),
        60_000,
      );
      await waitFor(
        "revision 1's ConfigMap collected",
        async () => ((await get(cmPath)) === undefined ? true : undefined),
        60_000,
        100,
      );
      const [r2, r3] = await revisions();
      expect(r3?.data.images).toEqual(["example/extract:2"]);

      // What `tessera rollback --to 2` writes: revision 2's spec with rollback-of; timed until the Deployment runs it.
      const started = performance.now();
      await putComponent(r2!.data.spec, { ...provenance, [DEPLOY_PROVENANCE_ANNOTATIONS.rollbackOf]: "2" });
      const written = performance.now();
      await waitFor(
        "the Deployment re-pointed to revision 2",
        async () => {
          const d = await get<DeploymentObject>(DEPLOYMENT);
          const template = d?.spec.template;
          return template?.metadata.annotations?.[CONFIG_HASH_ANNOTATION] === r2!.data.config.hash &&
            template.spec.containers[0]?.image === "example/extract:1"
            ? true
            : undefined;
        },
        30_000,
        10,
      );
      const repointedMs = Math.round(performance.now() - started);
      await atRevision(4);
      const r4 = (await revisions()).at(-1)!;
      expect(r4.data.provenance.rollbackOf).toBe(2);
      expect(r4.data.config).toEqual(r2!.data.config);
      expect((await revisions()).map((r) => r.revision)).toEqual([3, 4]);

      // Steady state with revisions present: resyncs change no resourceVersion anywhere.
      await controller.idle();
      const snapshot = async () =>
        JSON.stringify([
          (await revisions()).map((r) => r.metadata.resourceVersion),
          (await get<DeploymentObject>(DEPLOYMENT))?.metadata.resourceVersion,
          (await get<{ metadata: { resourceVersion: string } }>(COMPONENT))?.metadata.resourceVersion,
          (
            (
              await get<{ items: { metadata: { name: string; resourceVersion: string } }[] }>(
                `/api/v1/namespaces/${NS}/configmaps`,
              )
            )?.items ?? []
          ).map((c) => `${c.metadata.name}@${c.metadata.resourceVersion}`),
        ]);
      const before = await snapshot();
      const counters = { ...controller.counters };
      for (let i = 0; i < 3; i++) {
        await controller.resync();
        await new Promise((r) => setTimeout(r, 50));
        await controller.idle();
      }
      expect(await snapshot()).toBe(before);
      expect(controller.counters.applies).toBe(counters.applies);
      expect(controller.counters.statusWrites).toBe(counters.statusWrites);
      console.log(
        JSON.stringify({
          rollback: { repointedMs, componentWriteMs: Math.round(written - started) },
          revisions: (await revisions()).map((r) => r.revision),
        }),
      );
      expect(repointedMs).toBeLessThan(5_000);
    },
  );
});
