import { AUDIT_MIGRATIONS } from "../src/audit/audit-migrations.js";
import { SqlAuditLog } from "../src/audit/audit-store.js";
import { migrate } from "../src/sql/migrate.js";
import type { SqlClient } from "../src/sql/sql-client.js";
import type { SettingsStore } from "../src/settings/settings-store.js";
import { SqlSettingsStore } from "../src/settings/sql-settings-store.js";
import type { JobStorage, OutboxSkip } from "../src/store/job-storage.js";
import { SqlJobStore } from "../src/store/sql-job-store.js";
import { createMemoryDatabase } from "../src/store/memory-database.js";
import { MIGRATIONS } from "../src/store/migrations.js";
import type { DatabaseOption } from "../src/store/open-storage.js";
import type { AuditLog } from "../src/types.js";
import { sqlBackends } from "./sql-backends.js";

/** An outbox read's skip list from plain ids (the relay's own reads skip through a view of its state). */
export function skipping(ids: readonly number[]): OutboxSkip {
  const set = new Set(ids);
  return { has: (id) => set.has(id), ids: () => [...set] };
}

/** A fresh, empty store. Every coordinator given `database` works on the same data as `jobs` and `audit`. */
export interface OpenStore {
  database: DatabaseOption;
  jobs: JobStorage;
  audit: AuditLog;
  settings: SettingsStore;
  /** The SQL client underneath, on the SQL backends. */
  sql?: SqlClient;
}

export interface StoreBackend {
  name: "pglite" | "postgres" | "memory";
  open(): Promise<OpenStore>;
}

/**
 * The backends every store-level and coordinator suite runs on, for `describe.each(storeBackends())("$name",
 * ...)`: the SQL store on PGlite and on Postgres (see sqlBackends, whose rules apply: call it at a test
 * file's top level), and the memory store. One suite on all three is what keeps their semantics equal.
 */
export function storeBackends(): StoreBackend[] {
  const sql = sqlBackends().map((backend): StoreBackend => ({
    name: backend.name,
    async open() {
      const client = await backend.open();
      await migrate(client, [...MIGRATIONS, ...AUDIT_MIGRATIONS]);
      return {
        database: { client },
        jobs: new SqlJobStore(client),
        audit: new SqlAuditLog(client),
        settings: new SqlSettingsStore(client),
        sql: client,
      };
    },
  }));
  const memory: StoreBackend = {
    name: "memory",
    async open() {
      const db = createMemoryDatabase();
      return { database: { memory: db }, jobs: db.jobs, audit: db.audit, settings: db.settings };
    },
  };
  return [...sql, memory];
}
