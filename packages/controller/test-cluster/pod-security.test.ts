import { waitFor } from "@tessera/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { installManifests } from "../src/install/install-manifests.js";
import { renderComponent } from "../src/render/render-component.js";
import { KubeAccess, type KubeObjectLike } from "../src/reconcile/kube-access.js";
import { IN_CLUSTER_NATS, realBackend, type ApiBackend } from "./cluster-env.js";

// No kubelet: the ReplicaSet controller creates the pods and admission decides; admitted pods stay Pending.
const NS = "restricted";
const render = IN_CLUSTER_NATS;

interface PodSpecLike {
  securityContext?: Record<string, unknown>;
  containers: { name: string; securityContext?: Record<string, unknown> }[];
}
interface DeploymentLike extends KubeObjectLike {
  spec: { template: { spec: PodSpecLike } };
}
interface ReplicaSetLike {
  metadata: { ownerReferences?: { name: string }[] };
  status?: { conditions?: { type: string; reason: string; message: string }[] };
}

let api: ApiBackend;
let kube: KubeAccess;
beforeAll(async () => {
  api = await realBackend({ controllerManager: true });
  kube = new KubeAccess(api.kubeConfig);
  await api.createNamespace(NS, {
    "pod-security.kubernetes.io/enforce": "restricted",
    "pod-security.kubernetes.io/enforce-version": "latest",
  });
});
afterAll(async () => {
  await api?.stop();
});

function renderedDeployment(name: string): DeploymentLike {
  const rendered = renderComponent(
    { name, namespace: NS, spec: { image: "example/worker:1", inputMode: "content-ref", egress: "none" } },
    render,
  );
  return structuredClone(rendered.deployment) as unknown as DeploymentLike;
}

const podsOf = async (name: string): Promise<number> => {
  const res = await api.request("GET", `/api/v1/namespaces/${NS}/pods`);
  return (res.body as { items: { metadata: { name: string } }[] }).items.filter((p) =>
    p.metadata.name.startsWith(`${name}-`),
  ).length;
};

const creationFailure = (name: string): Promise<string> =>
  waitFor(
    `the ReplicaSet of ${name} to report FailedCreate`,
    async () => {
      const res = await api.request("GET", `/apis/apps/v1/namespaces/${NS}/replicasets`);
      const rs = (res.body as { items: ReplicaSetLike[] }).items.find((r) =>
        r.metadata.ownerReferences?.some((o) => o.name === name),
      );
      return rs?.status?.conditions?.find((c) => c.type === "ReplicaFailure" && c.reason === "FailedCreate")?.message;
    },
    60_000,
    200,
  );

describe("Pod Security Admission (restricted) on the pods the ReplicaSet controller creates", () => {
  it("admits the pods of a rendered worker Deployment and of the controller's own Deployment", async () => {
    const worker = renderedDeployment("psa-worker");
    await kube.apply(worker);
    const install = installManifests({
      namespace: NS,
      image: "example/tessera:1",
      nats: { url: "nats://nats.nats.svc:4222", monitoringEndpoint: "nats.nats.svc:8222" },
    }) as unknown as KubeObjectLike[];
    // Its pods name its ServiceAccount, which must exist for admission; the Namespace object is ours, labelled.
    for (const o of install.filter((x) => x.kind === "ServiceAccount")) await kube.apply(o);
    const controller = install.find((o) => o.kind === "Deployment") as KubeObjectLike;
    await kube.apply(controller);
    await waitFor("a worker pod admitted", async () => (await podsOf("psa-worker")) >= 1, 60_000, 200);
    await waitFor("a controller pod admitted", async () => (await podsOf(controller.metadata.name)) >= 1, 60_000, 200);
  });

  // Each copy drops one protection the renderer sets; the API server must refuse its pods, naming it.
  const weakenings: { name: string; weaken: (pod: PodSpecLike) => void; violation: string }[] = [
    {
      name: "privilege escalation allowed",
      weaken: (pod) => (pod.containers[0]!.securityContext!["allowPrivilegeEscalation"] = true),
      violation: "allowPrivilegeEscalation != false",
    },
    {
      name: "capabilities kept",
      weaken: (pod) => delete pod.containers[0]!.securityContext!["capabilities"],
      violation: "unrestricted capabilities",
    },
    {
      name: "no seccomp profile",
      weaken: (pod) => delete pod.securityContext!["seccompProfile"],
      violation: "seccompProfile",
    },
    {
      name: "runs as root",
      weaken: (pod) => {
        pod.securityContext!["runAsNonRoot"] = false;
        pod.securityContext!["runAsUser"] = 0;
        delete pod.containers[0]!.securityContext!["runAsNonRoot"];
      },
      violation: "runAsNonRoot != true",
    },
    {
      name: "privileged",
      // The API server's own validation refuses privileged with allowPrivilegeEscalation false: drop both.
      weaken: (pod) => {
        pod.containers[0]!.securityContext!["privileged"] = true;
        delete pod.containers[0]!.securityContext!["allowPrivilegeEscalation"];
      },
      violation: "securityContext.privileged=true",
    },
  ];

  it.each(weakenings)("refuses the pods of a weakened copy: $name", async ({ name, weaken, violation }) => {
    const deploymentName = `weak-${name.replace(/[^a-z]+/g, "-")}`;
    const weak = renderedDeployment(deploymentName);
    weaken(weak.spec.template.spec);
    await kube.apply(weak);
    const message = await creationFailure(deploymentName);
    expect(message).toContain('violates PodSecurity "restricted:latest"');
    expect(message).toContain(violation);
    expect(await podsOf(deploymentName)).toBe(0);
  });
});
