import { validateComponentSpec } from "@tessera/contract";
import { describe, expect, it } from "vitest";
import { kubernetesObjects, renderComponent } from "../../src/render/render-component.js";
import { validateManifests, type KubeObject } from "../../src/validate/validate-manifests.js";
import { component, ctx, spec } from "./fixtures.js";

const uid = "0b5d6c1e-0000-4000-8000-000000000001";
const owner = [
  {
    apiVersion: "tessera.dev/v1alpha1",
    kind: "Component",
    name: "extract",
    uid,
    controller: true,
    blockOwnerDeletion: true,
  },
];
const rules = [
  { apiGroups: [""], resources: ["configmaps"], verbs: ["get" as const, "list" as const] },
  {
    apiGroups: ["coordination.k8s.io"],
    resources: ["leases"],
    resourceNames: ["extract-lock"],
    verbs: ["get" as const],
  },
];

describe("RBAC from the spec (render)", () => {
  it("no rbac: no objects, the default account, no token", () => {
    const r = renderComponent(component(spec(), { uid }), ctx);
    expect(r.rbac).toEqual([]);
    expect(r.deployment.spec?.template.spec).toMatchObject({
      serviceAccountName: "default",
      automountServiceAccountToken: false,
    });
  });

  it("rules: a ServiceAccount, a Role with exactly those rules and its RoleBinding, owned by the Component, before the Deployment", () => {
    const r = renderComponent(component(spec({ rbac: { rules } }), { uid }), ctx);
    expect(r.rbac.map((o) => `${o.kind}/${o.metadata.name}`)).toEqual([
      "ServiceAccount/extract",
      "Role/extract",
      "RoleBinding/extract",
    ]);
    for (const o of r.rbac) {
      expect(o.metadata.namespace).toBe("docs");
      expect(o.metadata.ownerReferences).toEqual(owner);
      expect(o.metadata.labels["tessera.dev/component"]).toBe("extract");
    }
    expect((r.rbac[1] as { rules: unknown }).rules).toEqual(rules);
    expect(r.rbac[2]).toMatchObject({
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "extract" },
      subjects: [{ kind: "ServiceAccount", name: "extract", namespace: "docs" }],
    });
    expect(r.deployment.spec?.template.spec).toMatchObject({
      serviceAccountName: "extract",
      automountServiceAccountToken: true,
    });
    const kinds = kubernetesObjects(r).map((o) => o.kind);
    expect(kinds.indexOf("ServiceAccount")).toBeLessThan(kinds.indexOf("Deployment"));
    expect(validateManifests(kubernetesObjects(r) as unknown as KubeObject[])).toEqual([]);
  });

  it("clusterRoles: one RoleBinding each (namespaced, never a ClusterRoleBinding), no Role without rules", () => {
    const r = renderComponent(
      component(spec({ rbac: { clusterRoles: ["view", "view", "system:aggregate-to-view"] } })),
      ctx,
    );
    expect(r.rbac.map((o) => `${o.kind}/${o.metadata.name}`)).toEqual([
      "ServiceAccount/extract",
      "RoleBinding/extract-view",
      "RoleBinding/extract-system:aggregate-to-view",
    ]);
    expect(r.rbac[1]).toMatchObject({ roleRef: { kind: "ClusterRole", name: "view" } });
    expect(validateManifests(kubernetesObjects(r) as unknown as KubeObject[])).toEqual([]);
  });

  it("rbac: {} is an identity with a token and no permission", () => {
    const r = renderComponent(component(spec({ rbac: {} })), ctx);
    expect(r.rbac.map((o) => o.kind)).toEqual(["ServiceAccount"]);
    expect(r.deployment.spec?.template.spec?.automountServiceAccountToken).toBe(true);
  });

  it.each([
    ["a wildcard verb", { rules: [{ apiGroups: [""], resources: ["pods"], verbs: ["*"] }] }, "rbac.rules[0].verbs[0]"],
    [
      "escalate",
      { rules: [{ apiGroups: ["rbac.authorization.k8s.io"], resources: ["roles"], verbs: ["escalate"] }] },
      "rbac.rules[0].verbs[0]",
    ],
    [
      "bind",
      { rules: [{ apiGroups: ["rbac.authorization.k8s.io"], resources: ["clusterroles"], verbs: ["bind"] }] },
      "rbac.rules[0].verbs[0]",
    ],
    [
      "impersonate",
      { rules: [{ apiGroups: [""], resources: ["serviceaccounts"], verbs: ["impersonate"] }] },
      "rbac.rules[0].verbs[0]",
    ],
    [
      "a wildcard resource",
      { rules: [{ apiGroups: [""], resources: ["*"], verbs: ["get"] }] },
      "rbac.rules[0].resources[0]",
    ],
    [
      "a wildcard group",
      { rules: [{ apiGroups: ["*"], resources: ["pods"], verbs: ["get"] }] },
      "rbac.rules[0].apiGroups[0]",
    ],
    ["no verbs", { rules: [{ apiGroups: [""], resources: ["pods"], verbs: [] }] }, "rbac.rules[0].verbs"],
    [
      "an unknown field",
      { rules: [{ apiGroups: [""], resources: ["pods"], verbs: ["get"], nonResourceURLs: ["/x"] }] },
      "rbac.rules[0].nonResourceURLs",
    ],
    ["a ClusterRole name with a wildcard", { clusterRoles: ["*"] }, "rbac.clusterRoles[0]"],
  ])("the contract refuses %s, naming the field", (_what, rbac, path) => {
    const checked = validateComponentSpec({ image: "x:1", rbac });
    expect(checked.ok).toBe(false);
    if (!checked.ok) expect(checked.error.issues.map((i) => i.path)).toContain(path);
  });
});
