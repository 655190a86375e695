/**
 * The coordinator's one door to its database: Postgres dialect, on embedded PGlite or on a real
 * Postgres through `pg`. Everything above this interface is the same SQL on both.
 */
export interface SqlClient {
  readonly dialect: "pglite" | "postgres";
  /**
   * Parameterized query ($1, $2, ...). Rows come back with column names as keys; int8 and numeric as number
   * (exact up to 2^53, which counts, sequences and sums here stay below). Without params, `text` may hold several
   * statements (a migration script); the result is the last statement's.
   */
  query<R extends Record<string, unknown> = Record<string, unknown>>(
    text: string,
    params?: readonly unknown[],
    opts?: QueryOptions,
  ): Promise<QueryResult<R>>;
  /**
   * Runs `fn` in one transaction (BEGIN ... COMMIT, ROLLBACK on throw). The `tx` passed in must be used
   * for every statement of the transaction. Nested calls on `tx` are not supported.
   */
  transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T>;
  /** True when a trivial query succeeds. */
  ping(): Promise<boolean>;
  /**
   * The application_name every connection of this client carries (Postgres): what the job-change trigger
   * stamps on its notifications, so a coordinator tells its own writes from other replicas'.
   */
  readonly origin?: string;
  /**
   * Postgres only: LISTENs on `channels` over a connection of its own, kept open (reconnected with backoff
   * until stopped). `onNotification` gets each payload; `onConnected` runs after every (re)connection, when
   * notifications may have been missed. Resolves once the first connection listens.
   */
  listen?(channels: readonly string[], handlers: ListenHandlers): Promise<Listener>;
  /** True when the database lives in this process's memory (PGlite without a data directory). */
  readonly inMemory?: boolean;
  close(): Promise<void>;
}

export type SqlExecutor = Pick<SqlClient, "query" | "dialect">;

export interface QueryResult<R> {
  rows: R[];
  /** Rows inserted/updated/deleted (0 for SELECT on some drivers; use rows.length there). */
  rowCount: number;
}

export interface QueryOptions {
  /**
   * A statement run on every job: prepared once per connection under this name (Postgres), so it is not
   * parsed and planned on every call. The name must always come with the same text.
   */
  prepareAs?: string;
}

export interface ListenHandlers {
  onNotification(channel: string, payload: string): void;
  onConnected(): void;
  onError(err: unknown): void;
}

export interface Listener {
  stop(): Promise<void>;
}
