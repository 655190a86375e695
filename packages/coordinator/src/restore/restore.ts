import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { Value } from "@sinclair/typebox/value";
import type { Bus } from "@tessera/bus";
import type { Logger } from "pino";
import { createPgClient } from "../sql/pg-client.js";
import type { SqlClient } from "../sql/sql-client.js";
import { AUDIT_MIGRATIONS } from "../audit/audit-migrations.js";
import { MIGRATIONS } from "../store/migrations.js";
import { MANIFEST_FILE } from "./backup.js";
import { BackupError, findPgTool, redactUrl, runPgTool, toolConnection } from "./pg-tools.js";
import { reconcileRestored } from "./reconcile-restored.js";
import { BackupManifest, type RestoreReport } from "./restore-schemas.js";

export interface RestoreOptions {
  /** The backup's directory (manifest.json and the dump). */
  fromDir: string;
  /** A fresh, empty database: a restore never merges into one that holds anything. */
  databaseUrl: string;
  /** The bus to reconcile against; without one the store is restored as dumped and not reconciled. */
  bus?: Bus;
  onStep?: (step: string) => void;
  onProgress?: (done: number, total: number) => void;
  log?: Logger;
}

export async function readManifest(fromDir: string): Promise<BackupManifest> {
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(join(fromDir, MANIFEST_FILE), "utf8"));
  } catch (err) {
    throw new BackupError("usage", `${fromDir} is not a Tessera backup: ${(err as Error).message}`);
  }
  if (!Value.Check(BackupManifest, raw)) {
    const first = [...Value.Errors(BackupManifest, raw)][0];
    throw new BackupError(
      "usage",
      `${join(fromDir, MANIFEST_FILE)} is not a Tessera backup manifest: ${first?.path} ${first?.message}`,
    );
  }
  // The audit log's migrations share the table (ids from 100), so the schema version is the newest of both.
  const known = Math.max(...[...MIGRATIONS, ...AUDIT_MIGRATIONS].map((m) => m.id));
  if (raw.schema_version > known)
    throw new BackupError(
      "usage",
      `the backup's schema is version ${raw.schema_version}, this release knows up to ${known}: restore it with the release that wrote it`,
    );
  return raw;
}

/** Relations, sequences, functions and types outside Postgres's own schemas: anything means "not empty". */
async function userObjects(sql: SqlClient): Promise<number> {
  const res = await sql.query<{ n: number }>(
    `SELECT (SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
              WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%')
          + (SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
              WHERE n.nspname NOT IN ('pg_catalog', 'information_schema'))::int AS n`,
  );
  return Number(res.rows[0]?.n ?? 0);
}

/**
 * Restores a backup into an empty database (pg_restore in one transaction: all or nothing), then, given a
 * bus, reconciles it against the bus before any coordinator starts on it (reconcile-restored.ts). Start the
 * coordinators once it has returned: they relay what reconciling put in the outbox.
 */
export async function restoreBackup(opts: RestoreOptions): Promise<RestoreReport> {
  const step = opts.onStep ?? (() => undefined);
  const manifest = await readManifest(opts.fromDir);
  const pgRestore = await findPgTool("pg_restore");
  const sql = createPgClient({ connectionString: opts.databaseUrl, max: 2, applicationName: "tessera-restore" });
  try {
    step("checking the target is empty");
    const objects = await userObjects(sql);
    if (objects > 0)
      throw new BackupError(
        "usage",
        `${redactUrl(opts.databaseUrl)} is not empty (${objects} objects): restore into a fresh database (createdb), never over one in use`,
      );
    const started = Date.now();
    step(`restoring ${manifest.dump_bytes} bytes taken at ${manifest.taken_at}`);
    const target = toolConnection(opts.databaseUrl);
    await runPgTool(
      pgRestore,
      [
        "--no-owner",
        "--no-privileges",
        "--exit-on-error",
        "--single-transaction",
        `--dbname=${target.dbname}`,
        join(opts.fromDir, manifest.dump_file),
      ],
      target.env,
    );
    const restoreMs = Date.now() - started;
    const report: RestoreReport = { manifest, database: redactUrl(opts.databaseUrl), restore_ms: restoreMs };
    if (opts.bus === undefined) return report;
    step("reconciling with the bus");
    report.reconcile = await reconcileRestored(sql, opts.bus, { onProgress: opts.onProgress, log: opts.log });
    return report;
  } finally {
    await sql.close();
  }
}
