import { stringify } from "yaml";
import { restrictedContainerSecurityContext, restrictedPodSecurityContext } from "../render/hardening.js";
import { COMPONENT_GROUP, COMPONENT_PLURAL, componentCrd } from "../crd/index.js";
import type { KubeObject } from "../validate/validate-manifests.js";
import { controllerLeaseName } from "../reconcile/leader-election.js";

export const DEFAULT_INSTALL_NAMESPACE = "tessera-system";
/** The controller's name: ServiceAccount, (Cluster)Role, bindings and Deployment all use it. */
export const CONTROLLER_NAME = "tessera-controller";
/** Fixed non-root identity (the distroless "nonroot" user), as for the worker Deployment. */
export const CONTROLLER_UID = 65532;
export const CONTROLLER_HTTP_PORT = 8080;

export interface InstallOptions {
  /** Where the controller runs. Default `tessera-system`. */
  namespace?: string;
  /** The `tessera` CLI image; the controller runs as `tessera controller`. */
  image: string;
  nats: {
    /** `nats://host:4222`, passed as NATS_URL. */
    url: string;
    /** host:port of the NATS monitoring endpoint (no scheme), passed as TESSERA_NATS_MONITORING. */
    monitoringEndpoint: string;
  };
  /**
   * Namespaces whose Components the controller manages. Omitted: all namespaces, through a ClusterRole.
   * Given: one Role + RoleBinding per namespace, and no cluster-wide grant at all. NOTE: the controller
   * lists and watches Components cluster-wide today, which these Roles do not allow; until it watches per
   * namespace, only the default (a ClusterRole) works. `tessera render --install` does not offer it.
   */
  watchNamespaces?: string[];
  /** What a Component's `rbac` may grant its workload; see {@link ComponentGrants}. Default: nothing. */
  componentGrants?: ComponentGrants;
}

/**
 * The ceiling of what Components may grant their workloads (docs/decisions/0039-rbac-and-secrets-from-the-spec.md).
 * Kubernetes lets a client create a Role only with permissions it holds itself, and bind a ClusterRole only
 * when it holds `bind` on it: so the controller is given exactly this ceiling, never `escalate`, and the API
 * server refuses (403) a Component that declares more (the controller reports it as `RbacNotGrantable`).
 */
export interface ComponentGrants {
  /** Rules a Component's `rbac.rules` may include (the controller holds them itself, in every namespace it watches). */
  rules?: PolicyRule[];
  /** ClusterRoles a Component's `rbac.clusterRoles` may name (the controller holds `bind` on these names only). */
  clusterRoles?: string[];
}

export interface PolicyRule {
  apiGroups: string[];
  resources: string[];
  /** Only these objects (an API server cannot restrict `create` this way: it has no name to check yet). */
  resourceNames?: string[];
  verbs: string[];
}

const partOf = { "app.kubernetes.io/part-of": "tessera" };
const controllerLabels = {
  "app.kubernetes.io/name": CONTROLLER_NAME,
  "app.kubernetes.io/component": "controller",
  ...partOf,
};
const selectorLabels = { "app.kubernetes.io/name": CONTROLLER_NAME };

/**
 * Exactly what the controller does against the API server, and nothing else:
 * - Components: get/list/watch, and update (PUT) of the whole object to add/remove its finalizer; patch for
 *   tools that edit them the same way. The status subresource is written with PUT (`replaceNamespacedCustomObjectStatus`).
 *   `components/finalizers` update is what the OwnerReferencesPermissionEnforcement admission plugin requires
 *   to set `blockOwnerDeletion` on owner references pointing at a Component.
 * - Deployments, NetworkPolicies, KEDA ScaledObjects: read, and server-side apply (a PATCH, which is a create
 *   when the object does not exist yet, so create is granted too). Never delete: the children carry owner
 *   references to their Component and the garbage collector removes them.
 * - Events: create/patch, to report on Components.
 * - ConfigMaps: read and watch (overlays), and apply (the content-hashed, immutable config of each revision).
 * - ControllerRevisions: list, create (one per deploy revision) and delete (pruning beyond revisionHistoryLimit).
 * - ServiceAccounts, Roles, RoleBindings (a Component's declared `rbac`): read, apply, and delete, which prunes
 *   what an earlier spec declared and the current one no longer does (a revoked permission goes now).
 * - The Component grants ceiling, if any ({@link ComponentGrants}): its rules, and `bind` on its ClusterRoles by name.
 * No secrets (the worker Deployment only *references* Secrets by name; the kubelet resolves them) unless the
 * grants ceiling names them, no wildcards, no escalate/impersonate, no ClusterRole or ClusterRoleBinding writes.
 */
export function controllerPolicyRules(grants: ComponentGrants = {}): PolicyRule[] {
  const clusterRoles = [...new Set(grants.clusterRoles ?? [])];
  return [
    { apiGroups: [COMPONENT_GROUP], resources: [COMPONENT_PLURAL], verbs: ["get", "list", "watch", "update", "patch"] },
    { apiGroups: [COMPONENT_GROUP], resources: [`${COMPONENT_PLURAL}/status`], verbs: ["get", "update", "patch"] },
    { apiGroups: [COMPONENT_GROUP], resources: [`${COMPONENT_PLURAL}/finalizers`], verbs: ["update"] },
    { apiGroups: ["apps"], resources: ["deployments"], verbs: ["get", "list", "watch", "patch", "create"] },
    {
      apiGroups: ["networking.k8s.io"],
      resources: ["networkpolicies"],
      verbs: ["get", "list", "watch", "patch", "create"],
    },
    { apiGroups: ["keda.sh"], resources: ["scaledobjects"], verbs: ["get", "list", "watch", "patch", "create"] },
    { apiGroups: [""], resources: ["events"], verbs: ["create", "patch"] },
    // Overlays are read (and watched, to roll on an edit); hashed ConfigMaps applied. Never updated or deleted:
    // they are immutable, and the garbage collector removes them with their revision.
    { apiGroups: [""], resources: ["configmaps"], verbs: ["get", "list", "watch", "patch", "create"] },
    { apiGroups: ["apps"], resources: ["controllerrevisions"], verbs: ["list", "create", "delete"] },
    { apiGroups: [""], resources: ["serviceaccounts"], verbs: ["get", "list", "patch", "create", "delete"] },
    {
      apiGroups: ["rbac.authorization.k8s.io"],
      resources: ["roles", "rolebindings"],
      verbs: ["get", "list", "patch", "create", "delete"],
    },
    ...(clusterRoles.length > 0
      ? [
          {
            apiGroups: ["rbac.authorization.k8s.io"],
            resources: ["clusterroles"],
            resourceNames: clusterRoles,
            verbs: ["bind"],
          },
        ]
      : []),
    ...(grants.rules ?? []).map((r) => ({
      apiGroups: [...r.apiGroups],
      resources: [...r.resources],
      ...(r.resourceNames !== undefined ? { resourceNames: [...r.resourceNames] } : {}),
      verbs: [...r.verbs],
    })),
  ];
}

/**
 * Leader election, granted only in the controller's own namespace (a Role, not the ClusterRole): create the
 * Lease, and read and renew that one Lease by name. No list, watch or delete.
 */
export function controllerLeaseRules(): PolicyRule[] {
  return [
    { apiGroups: ["coordination.k8s.io"], resources: ["leases"], verbs: ["create"] },
    {
      apiGroups: ["coordination.k8s.io"],
      resources: ["leases"],
      resourceNames: [controllerLeaseName()],
      verbs: ["get", "update"],
    },
  ];
}

/**
 * The install manifests, in apply order: Namespace, the Component CRD, the controller's ServiceAccount,
 * its least-privilege RBAC (a ClusterRole + ClusterRoleBinding, or a Role + RoleBinding per watched
 * namespace), and the controller Deployment.
 */
export function installManifests(opts: InstallOptions): KubeObject[] {
  const namespace = opts.namespace ?? DEFAULT_INSTALL_NAMESPACE;
  const subjects = [{ kind: "ServiceAccount", name: CONTROLLER_NAME, namespace }];
  const leaseRole: KubeObject[] = [
    {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "Role",
      metadata: { name: `${CONTROLLER_NAME}-leader-election`, namespace, labels: controllerLabels },
      rules: controllerLeaseRules(),
    },
    {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "RoleBinding",
      metadata: { name: `${CONTROLLER_NAME}-leader-election`, namespace, labels: controllerLabels },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: `${CONTROLLER_NAME}-leader-election` },
      subjects,
    },
  ];
  const rbac: KubeObject[] =
    opts.watchNamespaces === undefined
      ? [
          {
            apiVersion: "rbac.authorization.k8s.io/v1",
            kind: "ClusterRole",
            metadata: { name: CONTROLLER_NAME, labels: controllerLabels },
            rules: controllerPolicyRules(opts.componentGrants),
          },
          {
            apiVersion: "rbac.authorization.k8s.io/v1",
            kind: "ClusterRoleBinding",
            metadata: { name: CONTROLLER_NAME, labels: controllerLabels },
            roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: CONTROLLER_NAME },
            subjects,
          },
        ]
      : [...new Set(opts.watchNamespaces)].flatMap((watched): KubeObject[] => [
          {
            apiVersion: "rbac.authorization.k8s.io/v1",
            kind: "Role",
            metadata: { name: CONTROLLER_NAME, namespace: watched, labels: controllerLabels },
            rules: controllerPolicyRules(opts.componentGrants),
          },
          {
            apiVersion: "rbac.authorization.k8s.io/v1",
            kind: "RoleBinding",
            metadata: { name: CONTROLLER_NAME, namespace: watched, labels: controllerLabels },
            roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: CONTROLLER_NAME },
            subjects,
          },
        ]);
  return [
    {
      apiVersion: "v1",
      kind: "Namespace",
      // The controller pod meets the restricted Pod Security Standard, so the namespace can enforce it.
      metadata: { name: namespace, labels: { ...partOf, "pod-security.kubernetes.io/enforce": "restricted" } },
    },
    componentCrd() as unknown as KubeObject,
    {
      apiVersion: "v1",
      kind: "ServiceAccount",
      metadata: { name: CONTROLLER_NAME, namespace, labels: controllerLabels },
    },
    ...rbac,
    ...leaseRole,
    controllerDeployment(namespace, opts),
  ];
}

function controllerDeployment(namespace: string, opts: InstallOptions): KubeObject {
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: CONTROLLER_NAME, namespace, labels: controllerLabels },
    spec: {
      // Unlike a worker Deployment (whose replicas KEDA owns and which never sets this field), this is the
      // controller itself: nothing scales it. One replica is enough (a standby only shortens a failover).
      replicas: 1,
      // Old and new side by side during a rollout are safe: only the Lease holder reconciles, and the old
      // one gives the Lease up on SIGTERM, so the new (already listed and ready) takes over within a retry.
      strategy: { type: "RollingUpdate", rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } },
      selector: { matchLabels: selectorLabels },
      template: {
        metadata: { labels: controllerLabels },
        spec: {
          serviceAccountName: CONTROLLER_NAME,
          // Unlike the worker (false), the controller needs its ServiceAccount token: it is how it
          // authenticates to the API server (in-cluster config) with the RBAC above.
          automountServiceAccountToken: true,
          enableServiceLinks: false,
          securityContext: restrictedPodSecurityContext(CONTROLLER_UID),
          containers: [
            {
              name: "controller",
              image: opts.image,
              args: ["controller"],
              ports: [{ name: "http", containerPort: CONTROLLER_HTTP_PORT, protocol: "TCP" }],
              env: [
                { name: "NATS_URL", value: opts.nats.url },
                { name: "TESSERA_NATS_MONITORING", value: opts.nats.monitoringEndpoint },
                // Where its Lease lives and who it is in it (leader election).
                { name: "POD_NAMESPACE", valueFrom: { fieldRef: { fieldPath: "metadata.namespace" } } },
                { name: "POD_NAME", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } },
              ],
              resources: { requests: { cpu: "50m", memory: "64Mi" }, limits: { memory: "256Mi" } },
              // Not ready while NATS is unreachable or the first list has not completed.
              readinessProbe: {
                httpGet: { path: "/readyz", port: CONTROLLER_HTTP_PORT },
                periodSeconds: 5,
                timeoutSeconds: 2,
                failureThreshold: 2,
              },
              livenessProbe: {
                httpGet: { path: "/healthz", port: CONTROLLER_HTTP_PORT },
                initialDelaySeconds: 10,
                periodSeconds: 10,
                timeoutSeconds: 2,
                failureThreshold: 3,
              },
              securityContext: restrictedContainerSecurityContext(),
            },
          ],
        },
      },
    },
  };
}

/** The same objects as one multi-document YAML stream (`kubectl apply -f -`). */
export function installManifestsYaml(opts: InstallOptions): string {
  return installManifests(opts)
    .map((object) => stringify(object, { lineWidth: 0 }))
    .join("---\n");
}
