import { MemoryConnectionStore } from "@tessera/connectors/storage";
import { MemoryGatewayAccountStore } from "../gateway/account-store.js";
import { MemoryAuditLog } from "../audit/memory-audit-log.js";
import { MemorySettingsStore } from "../settings/memory-settings-store.js";
import { MemoryJobStore, type MemoryJobStoreOptions } from "./memory-job-store.js";

/**
 * The memory store's tables: what `database: { memory: true }` opens for one coordinator, or, passed
 * as `database: { memory: db }`, what coordinators of one process share (one after another, as a restarted
 * coordinator finds its database). `maxDecidedJobs` bounds the decided jobs it holds (default 10,000).
 */
export interface MemoryDatabase {
  readonly jobs: MemoryJobStore;
  readonly audit: MemoryAuditLog;
  readonly settings: MemorySettingsStore;
  readonly connections: MemoryConnectionStore;
  readonly gatewayAccounts: MemoryGatewayAccountStore;
}

export function createMemoryDatabase(opts: MemoryJobStoreOptions = {}): MemoryDatabase {
  return {
    jobs: new MemoryJobStore(opts),
    audit: new MemoryAuditLog(),
    settings: new MemorySettingsStore(),
    connections: new MemoryConnectionStore(),
    gatewayAccounts: new MemoryGatewayAccountStore(),
  };
}
