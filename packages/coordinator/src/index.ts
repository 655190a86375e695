/**
 * The coordinator: the only DB writer and the job-state authority. It records every job before
 * publishing it (transactional outbox), consumes Results, owns the dead-letter flow and redrive, tracks
 * instances from heartbeats, enforces per-key limits at dispatch, holds settings and serves the admin API.
 *
 * ```ts
 * import { createInProcessBus } from "@tessera/bus";
 * import { createCoordinator, startAdminServer } from "@tessera/coordinator";
 *
 * const coordinator = await createCoordinator({ bus: createInProcessBus(), components: [{ name: "extract", spec }] });
 * const { jobId } = await coordinator.submit("extract", { text: "hello" }, { metadata: { tenant: "acme" } });
 * const job = await coordinator.waitForJob(jobId); // completed / failed / cancelled
 * const admin = await startAdminServer(coordinator, { port: 7400 });
 * ```
 */
export * from "./types.js";
export { createCoordinator, type CoordinatorOptions } from "./create-coordinator.js";
export type { DatabaseOption } from "./store/open-storage.js";
export type { CoordinatorConnectorsOptions } from "./connections/open-connections.js";
export { SqlConnectionStore, type SqlConnectionStoreOptions } from "./connections/sql-connection-store.js";
export { createMemoryDatabase, type MemoryDatabase } from "./store/memory-database.js";
export {
  GatewayControl,
  MAX_SIGNING_SECRETS,
  type GatewayFeed,
  type RotateCredentials,
} from "./gateway/gateway-control.js";
export type {
  GatewayAccountKey,
  GatewayAccountStore,
  GatewayConnectionRef,
  StoredGatewayAccount,
} from "./gateway/account-store.js";
export { MemoryGatewayAccountStore } from "./gateway/account-store.js";
export { SqlGatewayAccountStore } from "./gateway/sql-account-store.js";
export { rotateGatewayCredentials } from "./gateway/rotate-gateway-key.js";
export { DEFAULT_MAX_DECIDED_JOBS } from "./store/memory-decided-bound.js";
export type { MemoryJobStoreOptions } from "./store/memory-job-store.js";
export { CoordinatorError, type CoordinatorErrorCode } from "./errors.js";
export { INLINE_INPUT_MAX_BYTES } from "./submit/build-envelope.js";
export type { SqlClient, SqlExecutor, QueryResult } from "./sql/sql-client.js";
export { openSqlClient } from "./sql/open-sql-client.js";
export {
  ADMIN_BODY_LIMIT_BYTES,
  startAdminServer,
  type AdminServer,
  type AdminServerOptions,
} from "./http/admin-server.js";
export { isLoopbackHost } from "./http/access-guard.js";
export { COORDINATOR_METRICS, COORDINATOR_METRIC_NAMES } from "./metrics/coordinator-metric-names.js";
export { takeBackup, MANIFEST_FILE, type BackupOptions } from "./restore/backup.js";
export { restoreBackup, readManifest, type RestoreOptions } from "./restore/restore.js";
export { reconcileRestored, type ReconcileOptions } from "./restore/reconcile-restored.js";
export { BackupError } from "./restore/pg-tools.js";
export {
  BackupManifest,
  LostJob,
  ReconcileReport,
  RestoreReport,
  RECONCILE_OUTCOMES,
  type ReconcileOutcome,
} from "./restore/restore-schemas.js";
