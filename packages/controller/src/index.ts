/**
 * Kubernetes mode: the pure renderers (a Component spec → Deployment, KEDA ScaledObject, NetworkPolicies,
 * stream/consumer config), offline manifest validation, and the building blocks of the controller.
 *
 * ```ts
 * import { renderComponent, kubernetesObjects, validateManifests } from "@tessera/controller";
 * const rendered = renderComponent({ name: "extract", namespace: "docs", spec }, {
 *   nats: { url: "nats://nats.nats.svc:4222", monitoringEndpoint: "nats.nats.svc:8222", namespace: "nats", podLabels: { "app.kubernetes.io/name": "nats" } },
 * });
 * const problems = validateManifests(kubernetesObjects(rendered));
 * ```
 */
export {
  renderComponent,
  kubernetesObjects,
  RenderError,
  componentLabels,
  selectorLabels,
  type ComponentInput,
  type RenderedComponent,
  type RenderContext,
  type DeploymentObject,
  type ScaledObjectObject,
  type NetworkPolicyObject,
  type RbacObject,
  componentServiceAccountName,
  type StreamConfig,
  type ConsumerConfig,
} from "./render/render-component.js";
export * from "./crd/index.js";
export { COMPONENT_NAME_LABEL, REVISION_LABEL } from "./render/labels.js";
export { scalingShares, type ScalingShare, type RenderedCanary } from "./render/canary.js";
export { validateManifests, type KubeObject, type ManifestProblem } from "./validate/validate-manifests.js";
export { startController, type Controller, type ControllerOptions } from "./reconcile/controller.js";
export { ReconcileTrace } from "./reconcile/reconcile-span.js";
export {
  reconcileComponent,
  NotLeaderError,
  STREAM_FINALIZER,
  type StreamProvisioner,
  type ReconcileCounters,
} from "./reconcile/reconciler.js";
export { KubeAccess, FIELD_MANAGER } from "./reconcile/kube-access.js";
export {
  startLeaderElection,
  controllerLeaseName,
  leaseVerdict,
  microTime,
  DEFAULT_LEADER_ELECTION_TIMING,
  type LeaderElector,
  type LeaderElectionOptions,
  type LeaderElectionTiming,
} from "./reconcile/leader-election.js";
export { LazyProvisioner, type ClosableProvisioner } from "./reconcile/lazy-provisioner.js";
export {
  installManifests,
  installManifestsYaml,
  controllerPolicyRules,
  controllerLeaseRules,
  DEFAULT_INSTALL_NAMESPACE,
  CONTROLLER_NAME,
  type InstallOptions,
  type ComponentGrants,
  type PolicyRule,
} from "./install/install-manifests.js";
export {
  ControllerMetrics,
  CONTROLLER_METRICS,
  CONTROLLER_METRIC_NAMES,
  type ReconcileOutcome,
} from "./metrics/controller-metrics.js";
