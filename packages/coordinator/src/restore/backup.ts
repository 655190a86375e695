import { mkdir, readdir, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { createPgClient } from "../sql/pg-client.js";
import { JOB_STATES } from "../types.js";
import { BackupError, findPgTool, runPgTool, toolConnection } from "./pg-tools.js";
import { BACKUP_FORMAT, type BackupManifest, type JobCounts } from "./restore-schemas.js";

export const MANIFEST_FILE = "manifest.json";
const DUMP_FILE = "tessera.dump";

export interface BackupOptions {
  databaseUrl: string;
  /** A directory that does not exist yet or is empty: a backup never overwrites another. */
  outDir: string;
  onStep?: (step: string) => void;
}

/**
 * Backs up the coordinator's database: pg_dump in custom format, plus a manifest. Both come from one
 * snapshot: a read-only repeatable-read transaction exports its snapshot, the manifest's counts are read in
 * it and pg_dump is pointed at it (`--snapshot`), so the counts describe exactly the rows dumped, while the
 * coordinator keeps writing. The whole database is dumped (its functions and triggers belong to the schema).
 */
export async function takeBackup(opts: BackupOptions): Promise<BackupManifest> {
  const step = opts.onStep ?? (() => undefined);
  const entries = await readdir(opts.outDir).catch(() => [] as string[]);
  if (entries.length > 0)
    throw new BackupError("usage", `${opts.outDir} is not empty: a backup goes to a new directory`);
  await mkdir(opts.outDir, { recursive: true });
  const pgDump = await findPgTool("pg_dump");
  const pgDumpVersion = (await runPgTool(pgDump, ["--version"])).trim();
  const sql = createPgClient({ connectionString: opts.databaseUrl, max: 1, applicationName: "tessera-backup" });
  try {
    const manifest = await sql.transaction(async (tx) => {
      await tx.query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY");
      const snap = (
        await tx.query<{ snapshot: string; taken_at: Date; server_version: string }>(
          "SELECT pg_export_snapshot() AS snapshot, now() AS taken_at, current_setting('server_version') AS server_version",
        )
      ).rows[0] as { snapshot: string; taken_at: Date; server_version: string };
      step("reading the manifest");
      const version = await tx
        .query<{ v: number | null }>("SELECT max(id) AS v FROM tessera_migrations")
        .catch(() => ({ rows: [{ v: null }] }));
      const schemaVersion = version.rows[0]?.v ?? null;
      if (schemaVersion === null)
        throw new BackupError(
          "usage",
          "this database has no Tessera schema (no tessera_migrations): nothing to back up",
        );
      const jobs = Object.fromEntries(JOB_STATES.map((s) => [s, 0])) as JobCounts;
      const counts = await tx.query<{ state: keyof JobCounts; n: number }>(
        "SELECT state, count(*)::int AS n FROM tessera_jobs GROUP BY state",
      );
      for (const r of counts.rows) jobs[r.state] = r.n;
      const components = (
        await tx.query<{ component: string }>("SELECT DISTINCT component FROM tessera_jobs ORDER BY 1")
      ).rows.map((r) => r.component);
      step(`dumping (snapshot ${snap.snapshot})`);
      const target = toolConnection(opts.databaseUrl);
      await runPgTool(
        pgDump,
        [
          "--format=custom",
          "--no-owner",
          "--no-privileges",
          `--snapshot=${snap.snapshot}`,
          `--file=${join(opts.outDir, DUMP_FILE)}`,
          `--dbname=${target.dbname}`,
        ],
        target.env,
      );
      return {
        format: BACKUP_FORMAT,
        taken_at: new Date(snap.taken_at).toISOString(),
        schema_version: schemaVersion,
        dump_file: DUMP_FILE,
        dump_bytes: (await stat(join(opts.outDir, DUMP_FILE))).size,
        pg_dump_version: pgDumpVersion,
        server_version: snap.server_version,
        jobs,
        components,
      } satisfies BackupManifest;
    });
    await writeFile(join(opts.outDir, MANIFEST_FILE), JSON.stringify(manifest, null, 2) + "\n");
    return manifest;
  } finally {
    await sql.close();
  }
}
