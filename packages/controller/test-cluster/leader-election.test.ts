import { fileURLToPath } from "node:url";
import { spawnTsProcess, startNatsServer, waitFor, type NatsServerHandle, type TsProcess } from "@tessera/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { COMPONENT_GROUP, COMPONENT_PLURAL, COMPONENT_VERSION } from "../src/crd/index.js";
import { controllerLeaseName, type LeaseObject } from "../src/reconcile/leader-election.js";
import { realBackend, type ApiBackend } from "./cluster-env.js";

const LEASE_NS = "tessera-system";
const NS = "apps";
/** Shorter than client-go's 15 / 10 / 2 s so the test takes seconds; the same ratios. */
const TIMING = { LEASE_DURATION_MS: 4_000, RENEW_DEADLINE_MS: 3_000, RETRY_PERIOD_MS: 500 };
const FIXTURE = fileURLToPath(new URL("./fixtures/leader-process.ts", import.meta.url));
const ROOT = fileURLToPath(new URL("../../..", import.meta.url));
const COMPONENTS = `/apis/${COMPONENT_GROUP}/${COMPONENT_VERSION}/namespaces/${NS}/${COMPONENT_PLURAL}`;
const LEASE = `/apis/coordination.k8s.io/v1/namespaces/${LEASE_NS}/leases/${controllerLeaseName()}`;

let api: ApiBackend;
let nats: NatsServerHandle;
const replicas: TsProcess[] = [];
beforeAll(async () => {
  [api, nats] = await Promise.all([realBackend(), startNatsServer()]);
  await api.createNamespace(LEASE_NS);
  await api.createNamespace(NS);
});
afterAll(async () => {
  await Promise.all(replicas.map((r) => r.kill()));
  await nats?.stop();
  await api?.stop();
});

function replica(identity: string): TsProcess {
  const proc = spawnTsProcess(FIXTURE, {
    cwd: ROOT,
    env: {
      LEADER_IDENTITY: identity,
      KUBECONFIG_PATH: api.controlPlane!.kubeconfigPath,
      NATS_URL: nats.url,
      LEASE_NAMESPACE: LEASE_NS,
      ...Object.fromEntries(Object.entries(TIMING).map(([k, v]) => [k, String(v)])),
    },
  });
  replicas.push(proc);
  return proc;
}

const leading = (l: Record<string, unknown>): boolean => l["event"] === "log" && l["msg"] === "started leading";
const ensured = (r: TsProcess, component?: string): Record<string, unknown>[] =>
  r.lines.filter((l) => l["event"] === "ensure" && (component === undefined || l["component"] === component));

async function holder(): Promise<LeaseObject["spec"]> {
  const res = await api.request("GET", LEASE);
  expect(res.status).toBe(200);
  return (res.body as LeaseObject).spec;
}

async function createAndAwait(name: string): Promise<void> {
  const res = await api.request("POST", COMPONENTS, {
    apiVersion: `${COMPONENT_GROUP}/${COMPONENT_VERSION}`,
    kind: "Component",
    metadata: { name },
    spec: { image: "example/worker:1" },
  });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  await waitFor(
    `${name} reconciled`,
    async () => {
      const c = (await api.request("GET", `${COMPONENTS}/${name}`)).body as {
        status?: { conditions?: { type: string; status: string }[] };
      };
      return c.status?.conditions?.some((x) => x.type === "StreamReady" && x.status === "True") === true;
    },
    60_000,
    100,
  );
}

describe("leader election on a real API server, controllers as processes", () => {
  it("one of two replicas reconciles; SIGKILL it and the other takes over within the lease duration; a rolling update hands over", async () => {
    const a = replica("replica-a");
    const b = replica("replica-b");
    await Promise.all([a, b].map((r) => r.line("synced", (l) => l["event"] === "synced", 60_000)));
    const first = await waitFor("a leader", () => [a, b].find((r) => r.lines.some(leading)), 30_000, 50);
    const standby = first === a ? b : a;
    const firstId = first === a ? "replica-a" : "replica-b";
    const standbyId = first === a ? "replica-b" : "replica-a";
    expect((await holder())?.holderIdentity).toBe(firstId);

    for (const name of ["lead-one", "lead-two", "lead-three"]) await createAndAwait(name);
    expect(ensured(first).length).toBeGreaterThanOrEqual(3);
    expect(ensured(standby)).toEqual([]);
    expect(standby.lines.some(leading)).toBe(false);

    // The leader dies without a word: the standby must wait out the lease it last saw renewed.
    const killedAt = Date.now();
    await first.kill();
    const took = await standby.line("the standby to lead", leading, TIMING.LEASE_DURATION_MS * 3);
    const takeoverMs = (took["at"] as number) - killedAt;
    const lease = await holder();
    expect(lease?.holderIdentity).toBe(standbyId);
    expect(lease?.leaseTransitions).toBe(1);
    // Within the lease duration of the last renewal it saw (at most a retry period before the kill), plus
    // one retry period of its own polling and the request's time.
    expect(takeoverMs).toBeLessThanOrEqual(TIMING.LEASE_DURATION_MS + 2 * TIMING.RETRY_PERIOD_MS + 1_000);
    await createAndAwait("lead-four");
    expect(ensured(standby, "lead-four").length).toBeGreaterThan(0);

    // A rolling update: the new pod starts beside the old; the old one gets SIGTERM, finishes, gives the
    // Lease up; the new one takes it within a retry period and no write of the two ever overlaps.
    const next = replica("replica-c");
    await next.line("synced", (l) => l["event"] === "synced", 60_000);
    expect(next.lines.some(leading)).toBe(false);
    const termAt = Date.now();
    standby.proc.kill("SIGTERM");
    expect((await standby.exited).code).toBe(0);
    const released = standby.lines.find((l) => l["msg"] === "released the lease");
    expect(released, standby.output()).toBeDefined();
    const handed = await next.line("the new replica to lead", leading, TIMING.LEASE_DURATION_MS * 3);
    const lastWriteOfOld = Math.max(...ensured(standby).map((l) => l["at"] as number));
    expect(handed["at"] as number).toBeGreaterThanOrEqual(released!["at"] as number);
    expect(handed["at"] as number).toBeGreaterThan(lastWriteOfOld);
    const handoverMs = (handed["at"] as number) - termAt;
    expect(handoverMs).toBeLessThan(TIMING.LEASE_DURATION_MS);
    await createAndAwait("lead-five");
    expect(ensured(next, "lead-five").length).toBeGreaterThan(0);
    expect((await holder())?.holderIdentity).toBe("replica-c");
    console.log(
      JSON.stringify({
        apiServer: "kube-apiserver",
        leaseDurationMs: TIMING.LEASE_DURATION_MS,
        renewDeadlineMs: TIMING.RENEW_DEADLINE_MS,
        retryPeriodMs: TIMING.RETRY_PERIOD_MS,
        takeoverAfterSigkillMs: takeoverMs,
        handoverOnSigtermMs: handoverMs,
      }),
    );
    next.proc.kill("SIGTERM");
    await next.exited;
  }, 300_000);
});
