import type { ComponentSpec } from "@tessera/contract";
import type { IRole, IRoleBinding } from "kubernetes-models/rbac.authorization.k8s.io/v1";
import type { IServiceAccount } from "kubernetes-models/v1";
import { childMetadata, type ComponentRef } from "./labels.js";

type Metadata = ReturnType<typeof childMetadata>;
export type ServiceAccountObject = IServiceAccount & { metadata: Metadata };
export type RoleObject = IRole & { metadata: Metadata };
export type RoleBindingObject = IRoleBinding & { metadata: Metadata };
export type RbacObject = ServiceAccountObject | RoleObject | RoleBindingObject;

/** The service account every pod without declared RBAC runs as, with no token mounted. */
export const DEFAULT_SERVICE_ACCOUNT = "default";
const RBAC_API = "rbac.authorization.k8s.io";

/** The ServiceAccount (and Role, and its RoleBinding) of a component that declares `rbac`: named like the component. */
export function componentServiceAccountName(component: string): string {
  return component;
}

/** The RoleBinding of a named ClusterRole: one per ClusterRole, so each can be removed alone. */
export function clusterRoleBindingName(component: string, clusterRole: string): string {
  return `${component}-${clusterRole}`;
}

/** The kinds the controller prunes: what it rendered for an earlier spec and no longer renders. */
export const RBAC_KINDS = [
  { apiVersion: `${RBAC_API}/v1`, kind: "RoleBinding" },
  { apiVersion: `${RBAC_API}/v1`, kind: "Role" },
  { apiVersion: "v1", kind: "ServiceAccount" },
] as const;

/**
 * What `spec.rbac` becomes, in apply order (the ServiceAccount and Role before the bindings that name them):
 * nothing when it is not declared. Every object is namespaced: a ClusterRole the spec names is bound with a
 * RoleBinding, so it grants only inside the component's namespace. The controller never creates a ClusterRole
 * or a ClusterRoleBinding (see docs/decisions/0039-rbac-and-secrets-from-the-spec.md).
 */
export function renderRbac(component: ComponentRef, spec: ComponentSpec): RbacObject[] {
  const rbac = spec.rbac;
  if (rbac === undefined) return [];
  const account = componentServiceAccountName(component.name);
  const subjects = [{ kind: "ServiceAccount", name: account, namespace: component.namespace }];
  const objects: RbacObject[] = [
    // The pod mounts the token (automountServiceAccountToken on the pod spec); the account itself does not say so.
    { apiVersion: "v1", kind: "ServiceAccount", metadata: childMetadata(component, account) },
  ];
  if (rbac.rules !== undefined) {
    objects.push(
      {
        apiVersion: `${RBAC_API}/v1`,
        kind: "Role",
        metadata: childMetadata(component, account),
        rules: rbac.rules.map((r) => ({
          apiGroups: [...r.apiGroups],
          resources: [...r.resources],
          ...(r.resourceNames !== undefined ? { resourceNames: [...r.resourceNames] } : {}),
          verbs: [...r.verbs],
        })),
      },
      {
        apiVersion: `${RBAC_API}/v1`,
        kind: "RoleBinding",
        metadata: childMetadata(component, account),
        roleRef: { apiGroup: RBAC_API, kind: "Role", name: account },
        subjects,
      },
    );
  }
  for (const clusterRole of new Set(rbac.clusterRoles ?? [])) {
    objects.push({
      apiVersion: `${RBAC_API}/v1`,
      kind: "RoleBinding",
      metadata: childMetadata(component, clusterRoleBindingName(component.name, clusterRole)),
      roleRef: { apiGroup: RBAC_API, kind: "ClusterRole", name: clusterRole },
      subjects,
    });
  }
  return objects;
}
