import { describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { componentCrd } from "../../src/crd/index.js";
import {
  CONTROLLER_NAME,
  controllerLeaseRules,
  controllerPolicyRules,
  installManifests,
  installManifestsYaml,
  type InstallOptions,
  type PolicyRule,
} from "../../src/install/install-manifests.js";
import { validateManifests, type KubeObject } from "../../src/validate/validate-manifests.js";

const base: InstallOptions = {
  image: "ghcr.io/example/tessera:1.2.3",
  nats: { url: "nats://nats.nats.svc:4222", monitoringEndpoint: "nats.nats.svc:8222" },
};

/** validateManifests on install objects: upstream schema, unknown fields, restricted PSS (no component invariants apply). */
function problems(objects: readonly KubeObject[]): string[] {
  return validateManifests(objects).map((p) => `${p.object}: ${p.path === "" ? "" : `${p.path}: `}${p.message}`);
}

function podSpec(deployment: KubeObject): Record<string, unknown> {
  return (deployment["spec"] as { template: { spec: Record<string, unknown> } }).template.spec;
}

function controllerContainer(deployment: KubeObject): Record<string, unknown> {
  return (podSpec(deployment)["containers"] as Record<string, unknown>[])[0] as Record<string, unknown>;
}

const LEASE_ROLE = `${CONTROLLER_NAME}-leader-election`;

function rulesOf(objects: readonly KubeObject[]): PolicyRule[] {
  return objects
    .filter((o) => o.kind === "ClusterRole" || o.kind === "Role")
    .flatMap((o) => o["rules"] as PolicyRule[]);
}

function rulesOfRole(objects: readonly KubeObject[], name: string): PolicyRule[] {
  return objects
    .filter((o) => (o.kind === "ClusterRole" || o.kind === "Role") && o.metadata.name === name)
    .flatMap((o) => o["rules"] as PolicyRule[]);
}

function granted(rules: readonly PolicyRule[], group: string, resource: string, verb: string): boolean {
  return rules.some((r) => r.apiGroups.includes(group) && r.resources.includes(resource) && r.verbs.includes(verb));
}

/** Every API call the controller makes (kube-access.ts, reconciler.ts, controller.ts), plus events. */
const TOUCHED: [group: string, resource: string, verbs: string[]][] = [
  ["tessera.dev", "components", ["get", "list", "watch", "update", "patch"]],
  ["tessera.dev", "components/status", ["get", "update", "patch"]],
  ["tessera.dev", "components/finalizers", ["update"]],
  ["apps", "deployments", ["get", "list", "watch", "patch", "create"]],
  ["networking.k8s.io", "networkpolicies", ["get", "list", "watch", "patch", "create"]],
  ["keda.sh", "scaledobjects", ["get", "list", "watch", "patch", "create"]],
  ["", "events", ["create", "patch"]],
  // A Component's declared rbac (decision 0039): applied, and deleted when the spec no longer declares it.
  ["", "serviceaccounts", ["get", "list", "patch", "create", "delete"]],
  ["rbac.authorization.k8s.io", "roles", ["get", "list", "patch", "create", "delete"]],
  ["rbac.authorization.k8s.io", "rolebindings", ["get", "list", "patch", "create", "delete"]],
  // Deploy revisions (decision 0038): overlays read and watched, hashed ConfigMaps applied; revisions recorded
  // and pruned.
  ["", "configmaps", ["get", "list", "watch", "patch", "create"]],
  ["apps", "controllerrevisions", ["list", "create", "delete"]],
  // Leader election, in the install namespace only (get/update restricted to the one Lease by name).
  ["coordination.k8s.io", "leases", ["create", "get", "update"]],
];

describe("installManifests (cluster-wide)", () => {
  const objects = installManifests(base);

  it("returns the objects in apply order", () => {
    expect(objects.map((o) => `${o.kind}/${o.metadata.name}`)).toEqual([
      "Namespace/tessera-system",
      "CustomResourceDefinition/components.tessera.dev",
      "ServiceAccount/tessera-controller",
      "ClusterRole/tessera-controller",
      "ClusterRoleBinding/tessera-controller",
      "Role/tessera-controller-leader-election",
      "RoleBinding/tessera-controller-leader-election",
      "Deployment/tessera-controller",
    ]);
  });

  it("includes the Component CRD exactly as componentCrd() renders it", () => {
    expect(objects[1]).toEqual(componentCrd());
  });

  it("every object passes schema validation, has no unknown fields, and the pod is restricted", () => {
    expect(problems(objects)).toEqual([]);
  });

  it("the CRD and the Deployment pass validateManifests itself", () => {
    expect(
      validateManifests(objects.filter((o) => o.kind === "CustomResourceDefinition" || o.kind === "Deployment")),
    ).toEqual([]);
  });

  it("an unknown field in an install object is caught", () => {
    const bad = installManifests(base).map((o) => (o.kind === "ClusterRole" ? { ...o, rulez: [] } : o));
    expect(problems(bad)).toContain(
      "ClusterRole/tessera-controller: rulez: unknown field (not in the upstream schema; a misspelling?)",
    );
  });

  it("a schema violation in an install object is caught", () => {
    const bad = installManifests(base).map((o) =>
      o.kind === "ClusterRoleBinding" ? { ...o, roleRef: { kind: "ClusterRole" } } : o,
    );
    expect(problems(bad).some((p) => p.startsWith("ClusterRoleBinding/tessera-controller: schema:"))).toBe(true);
  });

  it("the ClusterRole grants exactly the controller's rules: no wildcards, no secrets, nothing else", () => {
    expect(rulesOfRole(objects, CONTROLLER_NAME)).toEqual(controllerPolicyRules());
    const rules = rulesOf(objects);
    for (const rule of rules) {
      for (const field of [rule.apiGroups, rule.resources, rule.verbs]) expect(field).not.toContain("*");
      expect(rule.resources.some((r) => r === "secrets" || r.startsWith("secrets/"))).toBe(false);
      // Delete only prunes a Component's own RBAC objects and old revisions; every other child goes with the
      // garbage collector.
      if (rule.verbs.includes("delete"))
        expect(
          rule.resources.every((r) => ["serviceaccounts", "roles", "rolebindings", "controllerrevisions"].includes(r)),
        ).toBe(true);
      expect(rule.verbs).not.toContain("deletecollection");
      for (const verb of ["escalate", "bind", "impersonate"]) expect(rule.verbs).not.toContain(verb);
      expect(
        Object.keys(rule)
          .filter((k) => k !== "resourceNames")
          .sort(),
      ).toEqual(["apiGroups", "resources", "verbs"]);
    }
    const grantsOnSecrets = ["get", "list", "watch", "create", "update", "patch"].some((v) =>
      granted(rules, "", "secrets", v),
    );
    expect(grantsOnSecrets).toBe(false);
  });

  it("componentGrants: the ceiling's rules and bind on the named ClusterRoles only, never escalate or ClusterRole writes", () => {
    const grants = {
      rules: [{ apiGroups: [""], resources: ["configmaps"], verbs: ["get", "list"] }],
      clusterRoles: ["view", "view"],
    };
    const rules = rulesOfRole(installManifests({ ...base, componentGrants: grants }), CONTROLLER_NAME);
    expect(rules).toEqual(controllerPolicyRules(grants));
    expect(rules).toContainEqual({ apiGroups: [""], resources: ["configmaps"], verbs: ["get", "list"] });
    expect(rules).toContainEqual({
      apiGroups: ["rbac.authorization.k8s.io"],
      resources: ["clusterroles"],
      resourceNames: ["view"],
      verbs: ["bind"],
    });
    for (const rule of rules) {
      expect(rule.verbs).not.toContain("escalate");
      expect(rule.resources).not.toContain("clusterrolebindings");
      if (rule.resources.includes("clusterroles")) expect(rule.verbs).toEqual(["bind"]);
    }
    // Without grants: no bind at all.
    expect(controllerPolicyRules().some((r) => r.verbs.includes("bind"))).toBe(false);
  });

  it.each(TOUCHED)("grants %s %s %j", (group, resource, verbs) => {
    const rules = rulesOf(objects);
    for (const verb of verbs) expect(granted(rules, group, resource, verb), `${verb} ${group}/${resource}`).toBe(true);
  });

  it("grants nothing beyond the resources the controller touches", () => {
    const allowed = new Set(TOUCHED.flatMap(([g, r, verbs]) => verbs.map((v) => `${g}|${r}|${v}`)));
    const actual = rulesOf(objects).flatMap((r) =>
      r.apiGroups.flatMap((g) => r.resources.flatMap((res) => r.verbs.map((v) => `${g}|${res}|${v}`))),
    );
    expect(new Set(actual)).toEqual(allowed);
  });

  it("leader election: a Role in the install namespace that creates the Lease and reads and renews only that one", () => {
    const role = objects.find((o) => o.kind === "Role" && o.metadata.name === LEASE_ROLE) as KubeObject;
    expect(role.metadata.namespace).toBe("tessera-system");
    expect(role["rules"]).toEqual(controllerLeaseRules());
    expect(controllerLeaseRules()).toEqual([
      { apiGroups: ["coordination.k8s.io"], resources: ["leases"], verbs: ["create"] },
      {
        apiGroups: ["coordination.k8s.io"],
        resources: ["leases"],
        resourceNames: ["tessera-controller"],
        verbs: ["get", "update"],
      },
    ]);
    const binding = objects.find((o) => o.kind === "RoleBinding" && o.metadata.name === LEASE_ROLE) as KubeObject;
    expect(binding.metadata.namespace).toBe("tessera-system");
    expect(binding["roleRef"]).toEqual({ apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: LEASE_ROLE });
    expect(binding["subjects"]).toEqual([
      { kind: "ServiceAccount", name: CONTROLLER_NAME, namespace: "tessera-system" },
    ]);
  });

  it("binds the ClusterRole to the controller's ServiceAccount", () => {
    const binding = objects.find((o) => o.kind === "ClusterRoleBinding") as KubeObject;
    expect(binding["roleRef"]).toEqual({
      apiGroup: "rbac.authorization.k8s.io",
      kind: "ClusterRole",
      name: CONTROLLER_NAME,
    });
    expect(binding["subjects"]).toEqual([
      { kind: "ServiceAccount", name: CONTROLLER_NAME, namespace: "tessera-system" },
    ]);
  });

  it("the controller Deployment: one replica, a surge-first rollout, its token, the CLI args, NATS and pod env, probes on 8080", () => {
    const deployment = objects.at(-1) as KubeObject;
    const spec = deployment["spec"] as Record<string, unknown>;
    expect(deployment.metadata.namespace).toBe("tessera-system");
    expect(spec["replicas"]).toBe(1);
    // Safe with leader election: the new pod stands by until the old one gives the Lease up.
    expect(spec["strategy"]).toEqual({ type: "RollingUpdate", rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } });
    const pod = podSpec(deployment);
    expect(pod["serviceAccountName"]).toBe(CONTROLLER_NAME);
    expect(pod["automountServiceAccountToken"]).toBe(true);
    const container = controllerContainer(deployment);
    expect(container["image"]).toBe(base.image);
    expect(container["args"]).toEqual(["controller"]);
    expect(container["env"]).toEqual([
      { name: "NATS_URL", value: "nats://nats.nats.svc:4222" },
      { name: "TESSERA_NATS_MONITORING", value: "nats.nats.svc:8222" },
      { name: "POD_NAMESPACE", valueFrom: { fieldRef: { fieldPath: "metadata.namespace" } } },
      { name: "POD_NAME", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } },
    ]);
    expect(container["readinessProbe"]).toMatchObject({ httpGet: { path: "/readyz", port: 8080 } });
    expect(container["livenessProbe"]).toMatchObject({ httpGet: { path: "/healthz", port: 8080 } });
  });

  it("mirrors the worker's hardening: read-only root, non-root fixed UID, no escalation, caps dropped, RuntimeDefault seccomp", () => {
    const deployment = objects.at(-1) as KubeObject;
    expect(podSpec(deployment)["securityContext"]).toMatchObject({
      runAsNonRoot: true,
      runAsUser: 65532,
      runAsGroup: 65532,
      seccompProfile: { type: "RuntimeDefault" },
    });
    expect(controllerContainer(deployment)["securityContext"]).toEqual({
      runAsNonRoot: true,
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ["ALL"] },
    });
    expect(podSpec(deployment)["hostNetwork"]).toBeUndefined();
    expect(podSpec(deployment)["volumes"]).toBeUndefined();
  });

  it("a weakened controller pod fails the restricted check", () => {
    const deployment = structuredClone(objects.at(-1) as KubeObject);
    (controllerContainer(deployment)["securityContext"] as Record<string, unknown>)["allowPrivilegeEscalation"] = true;
    expect(problems([deployment]).some((p) => p.includes("allowPrivilegeEscalation"))).toBe(true);
  });
});

describe("installManifests (watchNamespaces)", () => {
  const objects = installManifests({ ...base, namespace: "platform", watchNamespaces: ["docs", "search", "docs"] });

  it("renders a Role and RoleBinding per watched namespace and no cluster-wide grant", () => {
    expect(objects.map((o) => `${o.kind}/${o.metadata.namespace ?? ""}/${o.metadata.name}`)).toEqual([
      "Namespace//platform",
      "CustomResourceDefinition//components.tessera.dev",
      "ServiceAccount/platform/tessera-controller",
      "Role/docs/tessera-controller",
      "RoleBinding/docs/tessera-controller",
      "Role/search/tessera-controller",
      "RoleBinding/search/tessera-controller",
      "Role/platform/tessera-controller-leader-election",
      "RoleBinding/platform/tessera-controller-leader-election",
      "Deployment/platform/tessera-controller",
    ]);
    expect(objects.some((o) => o.kind === "ClusterRole" || o.kind === "ClusterRoleBinding")).toBe(false);
  });

  it("every object passes schema validation, unknown-field and restricted checks", () => {
    expect(problems(objects)).toEqual([]);
  });

  it("each Role has exactly the controller's rules and each RoleBinding binds it to the ServiceAccount in the install namespace", () => {
    const watched = (o: KubeObject): boolean => o.metadata.name === CONTROLLER_NAME;
    for (const role of objects.filter((o) => o.kind === "Role" && watched(o)))
      expect(role["rules"]).toEqual(controllerPolicyRules());
    for (const binding of objects.filter((o) => o.kind === "RoleBinding" && watched(o))) {
      expect(binding["roleRef"]).toEqual({
        apiGroup: "rbac.authorization.k8s.io",
        kind: "Role",
        name: CONTROLLER_NAME,
      });
      expect(binding["subjects"]).toEqual([{ kind: "ServiceAccount", name: CONTROLLER_NAME, namespace: "platform" }]);
    }
  });
});

describe("installManifestsYaml", () => {
  it("is a multi-document YAML stream of the same objects", () => {
    const docs = parseAllDocuments(installManifestsYaml(base));
    expect(docs.every((d) => d.errors.length === 0)).toBe(true);
    expect(docs.map((d) => d.toJS() as unknown)).toEqual(JSON.parse(JSON.stringify(installManifests(base))));
  });
});
