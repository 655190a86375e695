import { createPgClient } from "./pg-client.js";
import { createPgliteClient } from "./pglite-client.js";
import type { SqlClient } from "./sql-client.js";

/** A real Postgres when `databaseUrl` is set; otherwise embedded PGlite, persisted in `dataDir` or in memory. */
export async function openSqlClient(opts: {
  databaseUrl?: string;
  dataDir?: string;
  applicationName?: string;
}): Promise<SqlClient> {
  if (opts.databaseUrl !== undefined && opts.databaseUrl !== "")
    return createPgClient({
      connectionString: opts.databaseUrl,
      ...(opts.applicationName !== undefined ? { applicationName: opts.applicationName } : {}),
    });
  return createPgliteClient({ dataDir: opts.dataDir });
}
