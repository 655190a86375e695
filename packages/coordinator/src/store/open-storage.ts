import { randomUUID } from "node:crypto";
import type { ConnectionStore } from "@tessera/connectors";
import type { Logger } from "pino";
import { AUDIT_MIGRATIONS } from "../audit/audit-migrations.js";
import { SqlAuditLog } from "../audit/audit-store.js";
import { CoordinatorError } from "../errors.js";
import { migrate } from "../sql/migrate.js";
import { openSqlClient } from "../sql/open-sql-client.js";
import type { SqlClient } from "../sql/sql-client.js";
import type { SettingsStore } from "../settings/settings-store.js";
import { SqlSettingsStore } from "../settings/sql-settings-store.js";
import type { AuditLog } from "../types.js";
import { SqlConnectionStore } from "../connections/sql-connection-store.js";
import type { GatewayAccountStore } from "../gateway/account-store.js";
import { SqlGatewayAccountStore } from "../gateway/sql-account-store.js";
import type { JobStorage } from "./job-storage.js";
import { SqlJobStore } from "./sql-job-store.js";
import { createMemoryDatabase, type MemoryDatabase } from "./memory-database.js";
import { MIGRATIONS } from "./migrations.js";

/**
 * Where a coordinator keeps its jobs:
 *
 * - `{ url }`: Postgres; `{ dataDir }`: PGlite in that directory (`"memory://"`: PGlite in memory).
 * - `{ client }`: an open SQL client, shared (it is not closed).
 * - `{ memory: true }`: the memory store, this process's data structures; `{ memory: db }` shares one.
 *
 * Without `url` and `dataDir`, the `database.url` and `database.dir` settings (DATABASE_URL,
 * TESSERA_DATA_DIR) decide, and without those the memory store is used.
 */
export type DatabaseOption =
  { url?: string; dataDir?: string } | { client: SqlClient } | { memory: true | MemoryDatabase };

export interface OpenedStorage {
  /** Which kind of store: retention's default depends on it (decision 0017). */
  kind: "memory" | "sql";
  /** The coordinator's id among those sharing the store: its SQL connections' application_name when it has one. */
  id: string;
  jobs: JobStorage;
  /** The SQL database, on the SQL stores. */
  sql?: SqlClient;
  audit: AuditLog;
  settings: SettingsStore;
  /** Connections to providers and their sealed credentials (used when connectors are configured). */
  connections: ConnectionStore;
  /** The gateway's tenants and accounts (decision 0042). */
  gatewayAccounts: GatewayAccountStore;
  /**
   * Decided jobs the store deleted on its own to stay within a bound on them (the memory store's
   * `maxDecidedJobs`) since it was created; always 0 on a store without one.
   */
  evictedJobs(): number;
  /**
   * Ends the store's background work (PGlite's vacuums and checkpoints), then closes what was opened here
   * (an SQL client), once the coordinator has stopped.
   */
  release(): Promise<void>;
}

/** Opens (and migrates) the store `database` names, or the one the bootstrap settings name. */
export async function openStorage(
  database: DatabaseOption | undefined,
  settings: { url: string | null; dir: string | null },
  log: Logger,
): Promise<OpenedStorage> {
  // Postgres connections carry it, so the job-change trigger's notifications name their writer.
  const id = `tessera:${randomUUID()}`;
  const forms = ["url", "dataDir", "client", "memory"].filter(
    (k) => database !== undefined && k in database && (database as Record<string, unknown>)[k] !== undefined,
  );
  if (forms.length > 1 && !(forms.length === 2 && forms.includes("url") && forms.includes("dataDir"))) {
    throw new CoordinatorError(
      "invalid_request",
      `database: ${forms.join(" and ")} cannot be combined; give one of url/dataDir, client or memory`,
    );
  }
  // A key given as undefined counts as not given, as in the check above.
  if (forms.includes("memory")) return onMemory((database as { memory: unknown }).memory, id);
  if (forms.includes("client")) return onSql((database as { client: SqlClient }).client, false, log, id);
  const given = database as { url?: string; dataDir?: string } | undefined;
  const url = nonEmpty(given?.url) ?? nonEmpty(settings.url);
  const dataDir = nonEmpty(given?.dataDir) ?? nonEmpty(settings.dir);
  if (url === undefined && dataDir === undefined) return onMemory(true, id);
  return onSql(
    await openSqlClient({
      ...(url !== undefined ? { databaseUrl: url } : {}),
      ...(dataDir !== undefined ? { dataDir } : {}),
      applicationName: id,
    }),
    true,
    log,
    id,
  );
}

function onMemory(memory: unknown, id: string): OpenedStorage {
  const db = memory === true ? createMemoryDatabase() : memory;
  if (!isMemoryDatabase(db))
    throw new CoordinatorError(
      "invalid_request",
      `database.memory: expected true or a database from createMemoryDatabase(), got ${JSON.stringify(memory)}`,
    );
  return {
    kind: "memory",
    id,
    jobs: db.jobs,
    audit: db.audit,
    settings: db.settings,
    connections: db.connections,
    gatewayAccounts: db.gatewayAccounts,
    evictedJobs: () => db.jobs.evictedJobs(),
    release: () => Promise.resolve(),
  };
}

async function onSql(sql: SqlClient, owned: boolean, log: Logger, fallbackId: string): Promise<OpenedStorage> {
  // A client given by the caller keeps its own application_name (without one, its notifications cannot be
  // told from other coordinators', and the coordinator does not listen for them).
  const id = sql.origin ?? fallbackId;
  try {
    await migrate(sql, [...MIGRATIONS, ...AUDIT_MIGRATIONS]);
  } catch (err) {
    if (owned) await sql.close().catch(() => undefined);
    throw err;
  }
  const jobs = new SqlJobStore(sql, {
    claimant: id,
    onMaintenanceError: (err) =>
      log.warn({ err }, "vacuuming or checkpointing the embedded database failed; the next pass will try again"),
  });
  return {
    kind: "sql",
    id,
    sql,
    jobs,
    audit: new SqlAuditLog(sql),
    settings: new SqlSettingsStore(sql),
    connections: new SqlConnectionStore(sql),
    gatewayAccounts: new SqlGatewayAccountStore(sql),
    evictedJobs: () => 0,
    release: async () => {
      try {
        await jobs.stopMaintenance();
      } finally {
        if (owned) await sql.close();
      }
    },
  };
}

function isMemoryDatabase(value: unknown): value is MemoryDatabase {
  return typeof value === "object" && value !== null && "jobs" in value && "audit" in value && "settings" in value;
}

function nonEmpty(value: string | null | undefined): string | undefined {
  return value === undefined || value === null || value === "" ? undefined : value;
}
