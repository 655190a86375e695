/**
 * Shared test harnesses that start real servers on loopback. Used by every package's tests.
 *
 * ```ts
 * const nats = await startNatsServer();
 * // ... connect to nats.url ...
 * await nats.stop();
 *
 * // The cluster tier: a real etcd + kube-apiserver (+ controller-manager, KEDA), built by
 * // scripts/cluster-binaries.sh.
 * const cp = await startControlPlane({ controllerManager: true });
 * // ... new KubeConfig().loadFromFile(cp.kubeconfigPath) ...
 * await cp.stop();
 * ```
 */
export { startNatsServer, freePort, type NatsServerHandle } from "./nats-server.js";
export { startPostgres, type PostgresHandle } from "./postgres.js";
export { waitFor, sleep } from "./wait-for.js";
export { spawnTsProcess, type TsProcess } from "./ts-process.js";
export { startTesseraDev, type DevProcess } from "./tessera-dev.js";
export { spyingBus, withOverrides, type SettleEvent } from "./bus-overrides.js";
export { peakOverlap } from "./peak-overlap.js";
export { OAuthTestServer } from "./oauth-test-server.js";
export { FaultProxy, type Fault } from "./fault-proxy.js";
export { startNatsCluster, type NatsClusterHandle } from "./nats-cluster.js";
export {
  startControlPlane,
  clusterBinaries,
  clusterBinDir,
  kubeRequest,
  type ControlPlane,
  type ControlPlaneOptions,
  type Kubeconfig,
  type ClusterBinaries,
  type KubeCredentials,
  type KubeResponse,
} from "./control-plane/index.js";
export { pollHealth, type HealthPoll } from "./health-poll.js";
export { findExecutable } from "./find-executable.js";
export {
  startOtlpReceiver,
  OtlpSpanKind,
  type OtlpReceiver,
  type ReceivedSpan,
  type OtlpValue,
} from "./otlp-receiver.js";
