import * as k8s from "@kubernetes/client-node";
import { connectJetStreamBus, type Bus } from "@tessera/bus";
import { startNatsServer, waitFor, type NatsServerHandle } from "@tessera/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { COMPONENT_GROUP, COMPONENT_PLURAL, COMPONENT_VERSION } from "../src/crd/index.js";
import {
  CONTROLLER_NAME,
  DEFAULT_INSTALL_NAMESPACE,
  controllerLeaseRules,
  controllerPolicyRules,
  installManifests,
} from "../src/install/install-manifests.js";
import { controllerLeaseName } from "../src/reconcile/leader-election.js";
import { startController } from "../src/reconcile/controller.js";
import { KubeAccess, type KubeObjectLike } from "../src/reconcile/kube-access.js";
import { IN_CLUSTER_NATS, applyManifest, realBackend, type ApiBackend } from "./cluster-env.js";

const NS = "apps";
const SA = DEFAULT_INSTALL_NAMESPACE;
const user = `system:serviceaccount:${SA}:${CONTROLLER_NAME}`;
const render = IN_CLUSTER_NATS;

let api: ApiBackend;
let nats: NatsServerHandle;
let bus: Bus;
beforeAll(async () => {
  [api, nats] = await Promise.all([realBackend(), startNatsServer()]);
  bus = await connectJetStreamBus({ servers: nats.url, provision: true, name: "cluster-rbac" });
  await api.createNamespace(NS);
});
afterAll(async () => {
  await bus?.close();
  await nats?.stop();
  await api?.stop();
});

/** Whether the controller's ServiceAccount may do `verb` on `resource` (a SubjectAccessReview, as kubectl auth can-i). */
async function allowed(
  group: string,
  resource: string,
  verb: string,
  where: { namespace?: string; name?: string } = {},
): Promise<boolean> {
  const [plural, subresource] = resource.split("/");
  const res = await api.request("POST", "/apis/authorization.k8s.io/v1/subjectaccessreviews", {
    apiVersion: "authorization.k8s.io/v1",
    kind: "SubjectAccessReview",
    spec: {
      user,
      groups: ["system:serviceaccounts", `system:serviceaccounts:${SA}`, "system:authenticated"],
      resourceAttributes: {
        group,
        resource: plural,
        ...(subresource ? { subresource } : {}),
        verb,
        namespace: where.namespace ?? NS,
        ...(where.name !== undefined ? { name: where.name } : {}),
      },
    },
  });
  return (res.body as { status: { allowed: boolean } }).status.allowed;
}

describe("least privilege on a real API server", () => {
  it("the install manifests apply (as kubectl apply --server-side sends them)", async () => {
    const objects = installManifests({
      image: "example/tessera:1",
      nats: { url: render.nats.url, monitoringEndpoint: render.nats.monitoringEndpoint },
    }) as unknown as KubeObjectLike[];
    for (const o of objects) await applyManifest(api, o);
    expect(objects.map((o) => o.kind)).toEqual([
      "Namespace",
      "CustomResourceDefinition",
      "ServiceAccount",
      "ClusterRole",
      "ClusterRoleBinding",
      "Role",
      "RoleBinding",
      "Deployment",
    ]);
  });

  it("allows the ServiceAccount exactly the verbs the controller uses", async () => {
    for (const rule of controllerPolicyRules())
      for (const group of rule.apiGroups)
        for (const resource of rule.resources)
          for (const verb of rule.verbs) expect(await allowed(group, resource, verb), `${verb} ${resource}`).toBe(true);
  });

  it("allows the Lease verbs in the controller's namespace, get and update only on its own Lease", async () => {
    for (const rule of controllerLeaseRules())
      for (const verb of rule.verbs)
        for (const name of rule.resourceNames ?? [undefined])
          expect(
            await allowed("coordination.k8s.io", "leases", verb, { namespace: SA, ...(name ? { name } : {}) }),
            `${verb} leases ${name ?? ""}`,
          ).toBe(true);
  });

  it.each([
    ["get", SA, "another-lease"],
    ["update", SA, "another-lease"],
    ["list", SA, undefined],
    ["watch", SA, undefined],
    ["delete", SA, controllerLeaseName()],
    ["create", NS, undefined],
    ["update", NS, controllerLeaseName()],
  ])("refuses %s leases in %s (name %s)", async (verb, namespace, name) => {
    expect(await allowed("coordination.k8s.io", "leases", verb, { namespace, ...(name ? { name } : {}) })).toBe(false);
  });

  it.each([
    ["", "secrets", "get"],
    ["", "secrets", "list"],
    // ConfigMaps: read and applied (overlays, hashed config), never rewritten or deleted (decision 0038).
    ["", "configmaps", "update"],
    ["", "configmaps", "delete"],
    ["apps", "controllerrevisions", "update"],
    ["apps", "controllerrevisions", "patch"],
    ["", "pods", "create"],
    ["", "serviceaccounts", "impersonate"],
    ["apps", "deployments", "delete"],
    ["apps", "deployments", "update"],
    ["apps", "deployments/scale", "update"],
    ["networking.k8s.io", "networkpolicies", "delete"],
    ["keda.sh", "scaledobjects", "delete"],
    [COMPONENT_GROUP, COMPONENT_PLURAL, "delete"],
    [COMPONENT_GROUP, COMPONENT_PLURAL, "create"],
    ["rbac.authorization.k8s.io", "clusterroles", "escalate"],
    // A Component's rbac (decision 0039) is namespaced: no cluster-wide RBAC writes, and with no grants
    // ceiling no bind either.
    ["rbac.authorization.k8s.io", "clusterrolebindings", "create"],
    ["rbac.authorization.k8s.io", "clusterroles", "create"],
    ["rbac.authorization.k8s.io", "roles", "escalate"],
    ["rbac.authorization.k8s.io", "clusterroles", "bind"],
    ["rbac.authorization.k8s.io", "rolebindings", "update"],
  ])("refuses %s %s %s", async (group, resource, verb) => {
    expect(await allowed(group, resource, verb)).toBe(false);
  });

  it("reconciles a Component while running under that ServiceAccount's token, as the Lease holder", async () => {
    const token = await api.request("POST", `/api/v1/namespaces/${SA}/serviceaccounts/${CONTROLLER_NAME}/token`, {
      spec: { expirationSeconds: 3600 },
    });
    expect(token.status, JSON.stringify(token.body)).toBe(201);
    const kc = new k8s.KubeConfig();
    kc.loadFromFile(
      await api.controlPlane!.kubeconfigForToken(
        (token.body as { status: { token: string } }).status.token,
        CONTROLLER_NAME,
      ),
    );
    const controller = startController({
      kube: new KubeAccess(kc),
      streams: bus,
      render,
      concurrency: 2,
      leaderElection: { namespace: SA, identity: "least-privilege", retryPeriodMs: 500 },
    });
    try {
      const name = "rbac-probe";
      const path = `/apis/${COMPONENT_GROUP}/${COMPONENT_VERSION}/namespaces/${NS}/${COMPONENT_PLURAL}`;
      const created = await api.request("POST", path, {
        apiVersion: `${COMPONENT_GROUP}/${COMPONENT_VERSION}`,
        kind: "Component",
        metadata: { name },
        spec: { image: "example/worker:1" },
      });
      expect(created.status, JSON.stringify(created.body)).toBe(201);
      await waitFor(
        "the Component reconciled under the ServiceAccount",
        async () => {
          const c = (await api.request("GET", `${path}/${name}`)).body as {
            status?: { conditions?: { type: string; status: string }[] };
          };
          return c.status?.conditions?.some((x) => x.type === "StreamReady" && x.status === "True") === true;
        },
        30_000,
        100,
      );
      const deployment = await api.request("GET", `/apis/apps/v1/namespaces/${NS}/deployments/${name}`);
      expect(deployment.status).toBe(200);
      expect(controller.ready()).toBe(true);
      expect(controller.isLeader()).toBe(true);
      const lease = await api.request(
        "GET",
        `/apis/coordination.k8s.io/v1/namespaces/${SA}/leases/${controllerLeaseName()}`,
      );
      expect((lease.body as { spec: { holderIdentity: string } }).spec.holderIdentity).toBe("least-privilege");
      await api.request("DELETE", `${path}/${name}`);
      await waitFor("the finalizer removed", async () => (await api.request("GET", `${path}/${name}`)).status === 404);
    } finally {
      await controller.stop();
    }
  });
});
