import { PGlite } from "@electric-sql/pglite";
import { startPostgres, type PostgresHandle } from "@tessera/testkit";
import { afterAll, onTestFinished } from "vitest";
import { createPgClient } from "../src/sql/pg-client.js";
import { createPgliteClient } from "../src/sql/pglite-client.js";
import type { SqlClient } from "../src/sql/sql-client.js";

export interface SqlBackend {
  name: "pglite" | "postgres";
  /**
   * A client on a fresh, empty database of its own. Opened in a test (or beforeEach), it is closed when that
   * test finishes; opened in beforeAll, when the file ends. Closing it earlier is fine.
   */
  open(): Promise<SqlClient>;
  /**
   * `count` clients on one fresh database: separate pools on Postgres; on PGlite, which cannot share a
   * database between instances, the same client `count` times.
   */
  openShared(count: number): Promise<SqlClient[]>;
}

/**
 * The backends every SQL-level suite runs on, for `describe.each(sqlBackends())("$name", ...)`. Call it at a
 * test file's top level: it registers the afterAll that closes what is still open and stops the file's
 * Postgres cluster. The cluster starts on the first Postgres open(), so a file filtered down to PGlite never
 * starts one; each open() gets a database of its own, so tests do not see each other's rows.
 */
export function sqlBackends(): SqlBackend[] {
  const fileScoped = new Set<SqlClient>();
  let postgres: Promise<PostgresHandle> | undefined;
  let pgliteSeed: Promise<Blob> | undefined;

  // A PGlite instance holds about 200 MB, so a test's clients do not wait for the end of the file. Closing is
  // idempotent: a test may close its client itself, and a shared PGlite client is handed out more than once.
  const track = (client: SqlClient): SqlClient => {
    let closing: Promise<void> | undefined;
    const tracked: SqlClient = { ...client, close: () => (closing ??= client.close()) };
    try {
      onTestFinished(() => tracked.close());
    } catch {
      // No current test (beforeAll): the client serves the whole file.
      fileScoped.add(tracked);
    }
    return tracked;
  };

  const openPglite = async (): Promise<SqlClient> => {
    // initdb once per file; every database after that starts from its dump.
    pgliteSeed ??= PGlite.create().then(async (seed) => {
      const dump = await seed.dumpDataDir("none");
      await seed.close();
      return dump;
    });
    return track(await createPgliteClient({ loadDataDir: await pgliteSeed }));
  };

  const postgresDatabase = async (): Promise<string> => {
    postgres ??= startPostgres();
    return (await postgres).createDatabase();
  };

  afterAll(async () => {
    await Promise.all([...fileScoped].map((c) => c.close()));
    if (postgres !== undefined) await (await postgres).stop();
  });

  return [
    {
      name: "pglite",
      open: openPglite,
      openShared: async (count) => {
        const client = await openPglite();
        return Array.from({ length: count }, () => client);
      },
    },
    {
      name: "postgres",
      open: async () => track(createPgClient({ connectionString: await postgresDatabase() })),
      openShared: async (count) => {
        const url = await postgresDatabase();
        return Array.from({ length: count }, () => track(createPgClient({ connectionString: url })));
      },
    },
  ];
}
