import { MemoryAuditLog } from "../audit/memory-audit-log.js";
import { MemoryJobStore } from "./memory-job-store.js";

/**
 * The memory store's two tables: what `database: { memory: true }` opens for one coordinator, or, passed
 * as `database: { memory: db }`, what coordinators of one process share (one after another, as a restarted
 * coordinator finds its database).
 */
export interface MemoryDatabase {
  readonly jobs: MemoryJobStore;
  readonly audit: MemoryAuditLog;
}

export function createMemoryDatabase(): MemoryDatabase {
  return { jobs: new MemoryJobStore(), audit: new MemoryAuditLog() };
}
