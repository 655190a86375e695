/**
 * The coordinator: the only DB writer and the job-state authority.
 */
export * from "./types.js";
export type { SqlClient, SqlExecutor, QueryResult } from "./sql/sql-client.js";
