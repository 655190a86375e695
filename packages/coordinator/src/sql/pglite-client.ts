import { PGlite, types, type Results, type Transaction } from "@electric-sql/pglite";
import type { QueryResult, SqlClient, SqlExecutor } from "./sql-client.js";

/** The same number shape the pg client gives, so code above SqlClient never sees a bigint or a numeric string. */
const parsers = { [types.INT8]: Number, [types.NUMERIC]: Number };

function toResult<R>(r: Results<R> | undefined): QueryResult<R> {
  return { rows: r?.rows ?? [], rowCount: r?.rowCount ?? r?.affectedRows ?? 0 };
}

function executor(db: Pick<Transaction, "query" | "exec">): SqlExecutor {
  return {
    dialect: "pglite",
    async query<R extends Record<string, unknown>>(text: string, params?: readonly unknown[]): Promise<QueryResult<R>> {
      // The extended protocol (what query() uses) takes one statement; a parameterless script goes through the
      // simple protocol, as it does on pg.
      if (params === undefined || params.length === 0)
        return toResult((await db.exec(text)).at(-1) as Results<R> | undefined);
      return toResult(await db.query<R>(text, [...params]));
    },
  };
}

/**
 * Embedded Postgres (PGlite, WebAssembly): in memory, or persisted in `dataDir`. One backend, so there is no
 * real concurrency: PGlite's own lock makes a query issued while a transaction is open wait for it to end
 * rather than run inside it.
 *
 * `loadDataDir` starts from a `dumpDataDir()` tarball instead of running initdb: about 0.6 s instead of 3-4 s,
 * which is what lets tests afford a fresh database each.
 */
export async function createPgliteClient(opts: { dataDir?: string; loadDataDir?: Blob } = {}): Promise<SqlClient> {
  const db = await PGlite.create({ dataDir: opts.dataDir, loadDataDir: opts.loadDataDir, parsers });
  const { query } = executor(db);
  return {
    dialect: "pglite",
    inMemory: opts.dataDir === undefined || opts.dataDir.startsWith("memory://"),
    query,
    transaction: (fn) => db.transaction((tx) => fn(executor(tx))),
    ping: () =>
      db.query("SELECT 1").then(
        () => true,
        () => false,
      ),
    close: () => db.close(),
  };
}
