import * as k8s from "@kubernetes/client-node";
import { connectJetStreamBus, type Bus } from "@tessera/bus";
import type { ComponentSpec } from "@tessera/contract";
import { startNatsServer, waitFor, type NatsServerHandle } from "@tessera/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { COMPONENT_GROUP, COMPONENT_PLURAL, COMPONENT_VERSION } from "../src/crd/index.js";
import { CONTROLLER_NAME, DEFAULT_INSTALL_NAMESPACE, installManifests } from "../src/install/install-manifests.js";
import { startController, type Controller } from "../src/reconcile/controller.js";
import { KubeAccess, type KubeObjectLike } from "../src/reconcile/kube-access.js";
import { IN_CLUSTER_NATS, applyManifest, realBackend, type ApiBackend } from "./cluster-env.js";

// RBAC from the spec (decision 0039), on a real kube-apiserver with the garbage collector: the controller runs
// under its own least-privilege ServiceAccount, holding the install's grants ceiling, and a SubjectAccessReview
// shows each workload's ServiceAccount can do exactly what its Component declares.
const NS = "apps";
const OTHER_NS = "elsewhere";
const COMPONENTS = `/apis/${COMPONENT_GROUP}/${COMPONENT_VERSION}/namespaces/${NS}/${COMPONENT_PLURAL}`;
const GRANTS = {
  rules: [
    { apiGroups: [""], resources: ["configmaps"], verbs: ["get", "list", "watch"] },
    { apiGroups: ["coordination.k8s.io"], resources: ["leases"], verbs: ["get", "create", "update"] },
  ],
  clusterRoles: ["view"],
};

let api: ApiBackend;
let nats: NatsServerHandle;
let bus: Bus;
let controller: Controller;

beforeAll(async () => {
  [api, nats] = await Promise.all([realBackend({ controllerManager: true }), startNatsServer()]);
  bus = await connectJetStreamBus({ servers: nats.url, provision: true, name: "cluster-component-rbac" });
  await api.createNamespace(NS);
  await api.createNamespace(OTHER_NS);
  const objects = installManifests({
    image: "example/tessera:1",
    nats: { url: IN_CLUSTER_NATS.nats.url, monitoringEndpoint: IN_CLUSTER_NATS.nats.monitoringEndpoint },
    componentGrants: GRANTS,
  }) as unknown as KubeObjectLike[];
  for (const o of objects) if (o.kind !== "Deployment") await applyManifest(api, o);
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(
    await api.controlPlane!.kubeconfigForToken(
      await tokenOf(DEFAULT_INSTALL_NAMESPACE, CONTROLLER_NAME),
      CONTROLLER_NAME,
    ),
  );
  controller = startController({
    kube: new KubeAccess(kc),
    streams: bus,
    render: IN_CLUSTER_NATS,
    concurrency: 2,
    leaderElection: { namespace: DEFAULT_INSTALL_NAMESPACE, identity: "component-rbac", retryPeriodMs: 500 },
  });
});
afterAll(async () => {
  await controller?.stop();
  await bus?.close();
  await nats?.stop();
  await api?.stop();
});

async function tokenOf(namespace: string, account: string): Promise<string> {
  const res = await api.request("POST", `/api/v1/namespaces/${namespace}/serviceaccounts/${account}/token`, {
    spec: { expirationSeconds: 3600 },
  });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return (res.body as { status: { token: string } }).status.token;
}

/** Whether ServiceAccount `account` of NS may `verb` (kubectl auth can-i --as, through a SubjectAccessReview). */
async function can(
  account: string,
  verb: string,
  group: string,
  resource: string,
  where: { namespace?: string; name?: string } = {},
): Promise<boolean> {
  const res = await api.request("POST", "/apis/authorization.k8s.io/v1/subjectaccessreviews", {
    apiVersion: "authorization.k8s.io/v1",
    kind: "SubjectAccessReview",
    spec: {
      user: `system:serviceaccount:${NS}:${account}`,
      groups: ["system:serviceaccounts", `system:serviceaccounts:${NS}`, "system:authenticated"],
      resourceAttributes: {
        group,
        resource,
        verb,
        namespace: where.namespace ?? NS,
        ...(where.name !== undefined ? { name: where.name } : {}),
      },
    },
  });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return (res.body as { status: { allowed: boolean } }).status.allowed;
}

const spec = (over: Partial<ComponentSpec> = {}): ComponentSpec => ({
  image: "example/worker:1",
  inputMode: "content-ref",
  egress: "none",
  ...over,
});

async function createComponent(name: string, s: ComponentSpec): Promise<void> {
  const res = await api.request("POST", COMPONENTS, {
    apiVersion: `${COMPONENT_GROUP}/${COMPONENT_VERSION}`,
    kind: "Component",
    metadata: { name },
    spec: s,
  });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
}

async function replaceSpec(name: string, s: ComponentSpec): Promise<void> {
  const live = (await api.request("GET", `${COMPONENTS}/${name}`)).body as Record<string, unknown>;
  const res = await api.request("PUT", `${COMPONENTS}/${name}`, { ...live, spec: s });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
}

interface Condition {
  type: string;
  status: string;
  reason: string;
  message: string;
}
/** No KEDA runs here, so a provisioned Component's Deployment keeps its default replica and waits for workers. */
const PROVISIONED = "WorkersStarting";
async function readyCondition(name: string, reason: string): Promise<Condition> {
  return waitFor(
    `${name}: Ready reason ${reason}`,
    async () => {
      const c = (await api.request("GET", `${COMPONENTS}/${name}`)).body as {
        metadata: { generation: number };
        status?: { observedGeneration?: number; conditions?: Condition[] };
      };
      const ready = c.status?.conditions?.find((x) => x.type === "Ready");
      return c.status?.observedGeneration === c.metadata.generation && ready?.reason === reason ? ready : undefined;
    },
    60_000,
    100,
  );
}

const exists = async (path: string): Promise<boolean> => (await api.request("GET", path)).status === 200;
const sa = (name: string) => `/api/v1/namespaces/${NS}/serviceaccounts/${name}`;
const role = (name: string) => `/apis/rbac.authorization.k8s.io/v1/namespaces/${NS}/roles/${name}`;
const binding = (name: string) => `/apis/rbac.authorization.k8s.io/v1/namespaces/${NS}/rolebindings/${name}`;
const podSpecOf = async (name: string) =>
  (
    (await api.request("GET", `/apis/apps/v1/namespaces/${NS}/deployments/${name}`)).body as {
      spec: { template: { spec: { serviceAccountName?: string; automountServiceAccountToken?: boolean } } };
    }
  ).spec.template.spec;

describe("RBAC from the Component spec on a real API server", () => {
  it("grants the workload exactly the declared rules, in its namespace only, and mounts the token", async () => {
    await createComponent(
      "reader",
      spec({
        rbac: {
          rules: [
            { apiGroups: [""], resources: ["configmaps"], verbs: ["get", "list"] },
            {
              apiGroups: ["coordination.k8s.io"],
              resources: ["leases"],
              resourceNames: ["reader-lock"],
              verbs: ["get", "update"],
            },
          ],
        },
      }),
    );
    await readyCondition("reader", PROVISIONED);
    expect(await podSpecOf("reader")).toMatchObject({
      serviceAccountName: "reader",
      automountServiceAccountToken: true,
    });

    const allowed: [string, string, string, { namespace?: string; name?: string }?][] = [
      ["get", "", "configmaps"],
      ["list", "", "configmaps"],
      ["get", "coordination.k8s.io", "leases", { name: "reader-lock" }],
      ["update", "coordination.k8s.io", "leases", { name: "reader-lock" }],
    ];
    const refused: [string, string, string, { namespace?: string; name?: string }?][] = [
      ["watch", "", "configmaps"],
      ["create", "", "configmaps"],
      ["delete", "", "configmaps"],
      ["get", "", "configmaps", { namespace: OTHER_NS }],
      ["get", "", "secrets"],
      ["list", "", "pods"],
      ["get", "coordination.k8s.io", "leases", { name: "another-lock" }],
      ["create", "coordination.k8s.io", "leases"],
      ["create", "rbac.authorization.k8s.io", "rolebindings"],
    ];
    for (const [verb, group, resource, where] of allowed)
      expect(await can("reader", verb, group, resource, where), `${verb} ${resource} ${JSON.stringify(where)}`).toBe(
        true,
      );
    for (const [verb, group, resource, where] of refused)
      expect(await can("reader", verb, group, resource, where), `${verb} ${resource} ${JSON.stringify(where)}`).toBe(
        false,
      );

    // The token itself, used as the pod would: the API server answers the declared read and refuses the rest.
    const kc = new k8s.KubeConfig();
    kc.loadFromFile(await api.controlPlane!.kubeconfigForToken(await tokenOf(NS, "reader"), "reader"));
    const core = kc.makeApiClient(k8s.CoreV1Api);
    await expect(core.listNamespacedConfigMap({ namespace: NS })).resolves.toBeDefined();
    await expect(core.listNamespacedSecret({ namespace: NS })).rejects.toMatchObject({ code: 403 });
  });

  it("a Component without rbac runs as the default account with no token and no grant", async () => {
    await createComponent("plain", spec());
    await readyCondition("plain", PROVISIONED);
    expect(await podSpecOf("plain")).toMatchObject({
      serviceAccountName: "default",
      automountServiceAccountToken: false,
    });
    expect(await exists(sa("plain"))).toBe(false);
    expect(await can("default", "get", "", "configmaps")).toBe(false);
  });

  it("binds an allowed ClusterRole in the namespace only, and prunes the binding when the spec drops it", async () => {
    await createComponent("viewer", spec({ rbac: { clusterRoles: ["view"] } }));
    await readyCondition("viewer", PROVISIONED);
    expect(await exists(binding("viewer-view"))).toBe(true);
    // The RBAC authorizer reads bindings and the aggregated "view" rules from caches: eventually consistent.
    await waitFor(
      "view to apply",
      async () => ((await can("viewer", "list", "", "pods")) ? true : undefined),
      30_000,
      100,
    );
    expect(await can("viewer", "list", "", "pods", { namespace: OTHER_NS })).toBe(false);
    expect(await can("viewer", "create", "", "configmaps")).toBe(false);

    await replaceSpec("viewer", spec({ rbac: {} }));
    await waitFor("the view binding pruned", async () => !(await exists(binding("viewer-view"))), 60_000, 100);
    expect(await can("viewer", "list", "", "pods")).toBe(false);
    expect(await exists(sa("viewer"))).toBe(true);

    await replaceSpec("viewer", spec());
    await waitFor("the ServiceAccount pruned", async () => !(await exists(sa("viewer"))), 60_000, 100);
    // The controller prunes before it changes the Deployment (so a failed prune is retried): the Deployment follows.
    await waitFor(
      "the Deployment back on the default account",
      async () => ((await podSpecOf("viewer")).serviceAccountName === "default" ? true : undefined),
      60_000,
      100,
    );
    expect(await podSpecOf("viewer")).toMatchObject({
      serviceAccountName: "default",
      automountServiceAccountToken: false,
    });
  });

  it.each([
    [
      "secrets beyond the grants ceiling",
      { rules: [{ apiGroups: [""], resources: ["secrets"], verbs: ["get" as const] }] },
      "greedy",
      "Role",
    ],
    ["a ClusterRole the controller may not bind", { clusterRoles: ["edit"] }, "editor", "RoleBinding"],
  ])("refuses %s: Ready=False RbacNotGrantable, nothing granted", async (_what, rbac, name, kind) => {
    await createComponent(name, spec({ rbac }));
    const ready = await readyCondition(name, "RbacNotGrantable");
    expect(ready.status).toBe("False");
    expect(ready.message).toContain(`${kind} ${name}`);
    expect(ready.message).toMatch(/forbidden/i);
    expect(await can(name, "get", "", "secrets")).toBe(false);
    expect(await can(name, "create", "", "configmaps")).toBe(false);
  });

  it.each([
    ["escalate", { rules: [{ apiGroups: ["rbac.authorization.k8s.io"], resources: ["roles"], verbs: ["escalate"] }] }],
    ["a wildcard", { rules: [{ apiGroups: [""], resources: ["*"], verbs: ["get"] }] }],
  ])("the CRD refuses %s before the controller sees it", async (_what, rbac) => {
    const res = await api.request("POST", COMPONENTS, {
      apiVersion: `${COMPONENT_GROUP}/${COMPONENT_VERSION}`,
      kind: "Component",
      metadata: { name: "refused" },
      spec: { ...spec(), rbac },
    });
    expect(res.status, JSON.stringify(res.body)).toBe(422);
    expect(JSON.stringify(res.body)).toContain("spec.rbac.rules[0]");
  });

  it("the garbage collector removes the ServiceAccount, Role and RoleBinding with the Component", async () => {
    expect(await exists(role("reader"))).toBe(true);
    expect((await api.request("DELETE", `${COMPONENTS}/reader`)).status).toBe(200);
    await waitFor(
      "the RBAC objects of reader garbage-collected",
      async () =>
        !(await exists(sa("reader"))) && !(await exists(role("reader"))) && !(await exists(binding("reader"))),
      60_000,
      200,
    );
    expect(await can("reader", "get", "", "configmaps")).toBe(false);
  });
});
