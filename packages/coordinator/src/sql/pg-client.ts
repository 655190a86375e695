import pg from "pg";
import type { CustomTypesConfig, PoolClient, QueryResult as PgResult } from "pg";
import { setTimeout as sleep } from "node:timers/promises";
import type { Listener, ListenHandlers, QueryOptions, QueryResult, SqlClient, SqlExecutor } from "./sql-client.js";

const AS_NUMBER = new Set<number>([pg.types.builtins.INT8, pg.types.builtins.NUMERIC]);

/** Per pool rather than pg.types.setTypeParser, which would change every other pg user in the process. */
const types: CustomTypesConfig = {
  getTypeParser: (oid, format) => (AS_NUMBER.has(oid) ? Number : pg.types.getTypeParser(oid, format)),
};

function executor(db: Pick<PoolClient, "query">): SqlExecutor {
  return {
    dialect: "postgres",
    async query<R extends Record<string, unknown>>(
      text: string,
      params?: readonly unknown[],
      opts?: QueryOptions,
    ): Promise<QueryResult<R>> {
      if (opts?.prepareAs !== undefined && params !== undefined) {
        const res = (await db.query({ name: opts.prepareAs, text, values: [...params] })) as PgResult<R>;
        return { rows: res.rows, rowCount: res.rowCount ?? 0 };
      }
      // Without params pg uses the simple protocol, which answers a multi-statement script with one result each.
      const res = (await db.query(text, params === undefined ? undefined : [...params])) as PgResult<R> | PgResult<R>[];
      const last = Array.isArray(res) ? res.at(-1) : res;
      return { rows: last?.rows ?? [], rowCount: last?.rowCount ?? 0 };
    },
  };
}

/** A real Postgres through a `pg.Pool` (`max` connections, 10 by default). Connects lazily, on the first query. */
export function createPgClient(opts: { connectionString: string; max?: number; applicationName?: string }): SqlClient {
  const pool = new pg.Pool({
    connectionString: opts.connectionString,
    max: opts.max ?? 10,
    types,
    ...(opts.applicationName !== undefined ? { application_name: opts.applicationName } : {}),
    // An unreachable host then fails the query instead of leaving it pending forever.
    connectionTimeoutMillis: 10_000,
  });
  // An idle connection that dies (server restart, network) is reported here; without a listener that would be an
  // uncaught 'error' event and end the process. The pool drops it, and the next query connects afresh or fails.
  pool.on("error", () => undefined);
  // The hot statements are prepared, and Postgres would move each to a generic plan after five runs, costed on
  // the table as it was then: on a young job table that is a sequential scan and a hash join, kept while the
  // table grows until an autovacuum ANALYZE replaces it, so every Result and dispatch record read the whole
  // table. A plan made for each run sees the table's current size and the batch's, and uses the primary key.
  // JIT compilation is off too: the outbox read, with thousands of held ids to leave out, is costed past
  // jit_above_cost, and compiling it took far longer than running it, on every pass (decision 0045).
  // Queued on the new connection before anything else it runs (decision 0043).
  pool.on(
    "connect",
    (client) => void client.query("SET plan_cache_mode = force_custom_plan; SET jit = off").catch(() => undefined),
  );
  const { query } = executor(pool);
  return {
    dialect: "postgres",
    query,
    async transaction(fn) {
      const client = await pool.connect();
      // Checked out, the connection reports its death on itself rather than on the pool; the failing statement
      // rejects anyway, so this only keeps the event from being uncaught.
      const onError = (): void => undefined;
      client.on("error", onError);
      let broken: Error | undefined;
      try {
        await client.query("BEGIN");
        const result = await fn(executor(client));
        await client.query("COMMIT");
        return result;
      } catch (err) {
        // A connection that cannot even roll back is not given back to the pool for reuse.
        await client.query("ROLLBACK").catch((rollbackErr: unknown) => {
          broken = rollbackErr instanceof Error ? rollbackErr : new Error(String(rollbackErr));
        });
        throw err;
      } finally {
        client.off("error", onError);
        client.release(broken);
      }
    },
    ping: () =>
      pool.query("SELECT 1").then(
        () => true,
        () => false,
      ),
    close: () => pool.end(),
    ...(opts.applicationName !== undefined ? { origin: opts.applicationName } : {}),
    listen: (channels, handlers) => listen(opts.connectionString, opts.applicationName, channels, handlers),
  };
}

const LISTEN_RETRY_MAX_MS = 2_000;

/** One connection that only listens, connected again (with backoff) whenever it drops, until stopped. */
async function listen(
  connectionString: string,
  applicationName: string | undefined,
  channels: readonly string[],
  handlers: ListenHandlers,
): Promise<Listener> {
  let stopped = false;
  let current: pg.Client | undefined;
  let wake: (() => void) | undefined;
  const open = async (): Promise<pg.Client> => {
    const client = new pg.Client({
      connectionString,
      ...(applicationName !== undefined ? { application_name: `${applicationName}:listen` } : {}),
    });
    client.on("notification", (n) => handlers.onNotification(n.channel, n.payload ?? ""));
    const dropped = new Promise<void>((resolve) => {
      // Every error, not only the first: an unhandled 'error' event would end the process.
      client.on("error", (err) => {
        if (!stopped) handlers.onError(err);
        resolve();
      });
      client.once("end", () => resolve());
    });
    await client.connect();
    for (const channel of channels) await client.query(`LISTEN ${pg.escapeIdentifier(channel)}`);
    current = client;
    handlers.onConnected();
    void dropped.then(() => {
      if (current === client) current = undefined;
      wake?.();
    });
    return client;
  };
  await open();
  const keep = (async () => {
    let delay = 50;
    while (!stopped) {
      if (current !== undefined) {
        await new Promise<void>((resolve) => (wake = resolve));
        continue;
      }
      try {
        await open();
        delay = 50;
      } catch (err) {
        if (!stopped) handlers.onError(err);
        await sleep(delay);
        delay = Math.min(LISTEN_RETRY_MAX_MS, delay * 2);
      }
    }
  })();
  return {
    async stop() {
      stopped = true;
      const client = current;
      current = undefined;
      wake?.();
      await client?.end().catch(() => undefined);
      await keep;
    },
  };
}
