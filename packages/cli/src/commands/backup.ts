import { connectJetStreamBus, type Bus } from "@tessera/bus";
import {
  BackupError,
  RECONCILE_OUTCOMES,
  restoreBackup,
  takeBackup,
  type BackupManifest,
  type RestoreReport,
} from "@tessera/coordinator";
import { CliError, usageError } from "../cli-error.js";
import type { CliIo, RegisterCommands } from "../cli-io.js";
import { ExitCode } from "../exit-codes.js";
import { writeJson } from "../output/json.js";
import { createProgress } from "../output/progress.js";
import { styleFor } from "../output/style.js";
import { renderTable } from "../output/table.js";

interface BackupFlags {
  database?: string;
  out: string;
  json?: boolean;
}

interface RestoreFlags {
  database?: string;
  nats?: string;
  reconcile: boolean;
  json?: boolean;
}

function databaseUrl(flags: { database?: string }, io: CliIo, command: string): string {
  const url = flags.database ?? io.env["DATABASE_URL"];
  if (url === undefined || url === "") throw usageError(`${command}: give --database <postgres url> (or DATABASE_URL)`);
  return url;
}

/** A backup error keeps its kind; a refused connection is "cannot reach" (3), as for the coordinator. */
function cliErrorOf(err: unknown): unknown {
  if (err instanceof BackupError)
    return new CliError(err.message, err.kind === "usage" ? ExitCode.Usage : ExitCode.Failed);
  const code = (err as { code?: string }).code;
  if (code === "ECONNREFUSED" || code === "ENOTFOUND" || code === "ETIMEDOUT" || code === "CONNECTION_REFUSED")
    return new CliError(`cannot reach ${(err as Error).message}`, ExitCode.Unreachable);
  return err;
}

function countsRow(jobs: BackupManifest["jobs"]): string[][] {
  return Object.entries(jobs).map(([state, n]) => [state, String(n)]);
}

async function backupAction(flags: BackupFlags, io: CliIo): Promise<void> {
  const url = databaseUrl(flags, io, "backup");
  const progress = createProgress(io.stderr);
  let manifest: BackupManifest;
  try {
    manifest = await takeBackup({
      databaseUrl: url,
      outDir: flags.out,
      onStep: (s) => progress.update(`backup: ${s}`),
    });
  } catch (err) {
    throw cliErrorOf(err);
  }
  progress.done(`backup: done, ${manifest.dump_bytes} bytes in ${flags.out}`);
  if (flags.json === true) return writeJson(io.stdout, manifest);
  const style = styleFor(io.stdout, io.env);
  io.stdout.write(`backup point ${manifest.taken_at}, schema version ${manifest.schema_version}\n`);
  io.stdout.write(renderTable(["state", "jobs"], countsRow(manifest.jobs), style));
}

function writeRestoreReport(report: RestoreReport, io: CliIo): void {
  const style = styleFor(io.stdout, io.env);
  const { manifest, reconcile } = report;
  io.stdout.write(`restored the backup of ${manifest.taken_at} into ${report.database} in ${report.restore_ms} ms\n`);
  if (reconcile === undefined) {
    io.stdout.write("not reconciled with the bus (--no-reconcile): run no coordinator on it before you do\n");
    return;
  }
  io.stdout.write(`\n${reconcile.open_jobs} jobs were pending or queued at the backup point:\n`);
  io.stdout.write(
    renderTable(
      ["outcome", "jobs"],
      RECONCILE_OUTCOMES.map((o) => [o, String(reconcile.outcomes[o])]),
      style,
    ),
  );
  if (reconcile.lost.length === 0) {
    io.stdout.write("\nno job on the bus is missing from the restored store\n");
    return;
  }
  io.stdout.write(`\n${reconcile.lost.length} jobs the bus knows were created after the backup point and are lost:\n`);
  io.stdout.write(
    renderTable(
      ["job", "component", "found in", "result"],
      reconcile.lost.map((l) => [l.job_id, l.component, l.found_in.join(", "), l.result_status ?? ""]),
      style,
    ),
  );
}

async function restoreAction(dir: string, flags: RestoreFlags, io: CliIo): Promise<void> {
  const url = databaseUrl(flags, io, "restore");
  const natsUrl = flags.nats ?? io.env["NATS_URL"];
  if (flags.reconcile && (natsUrl === undefined || natsUrl === ""))
    throw usageError("restore: give --nats <url> (or NATS_URL) to reconcile with the bus, or --no-reconcile");
  const progress = createProgress(io.stderr);
  let bus: Bus | undefined;
  try {
    if (flags.reconcile)
      bus = await connectJetStreamBus({ servers: natsUrl as string, name: "tessera-restore", provision: false });
    const report = await restoreBackup({
      fromDir: dir,
      databaseUrl: url,
      bus,
      onStep: (s) => progress.update(`restore: ${s}`),
      onProgress: (done, total) => progress.update(`restore: reconciled ${done}/${total} open jobs`),
    });
    progress.done(`restore: done`);
    if (flags.json === true) writeJson(io.stdout, report);
    else writeRestoreReport(report, io);
    if ((report.reconcile?.lost.length ?? 0) > 0)
      io.stderr.write("warning: jobs were lost by the restore; they are listed above: submit them again if needed\n");
  } catch (err) {
    throw cliErrorOf(err);
  } finally {
    await bus?.close();
  }
}

/** `tessera backup` / `tessera restore`: the coordinator's database, dumped and restored with the PostgreSQL tools. */
export const registerBackupCommands: RegisterCommands = (program, io) => {
  program
    .command("backup")
    .description("dump the coordinator's Postgres database (pg_dump) with a manifest of its jobs")
    .requiredOption("--out <dir>", "a new (or empty) directory for manifest.json and the dump")
    .option("--database <url>", "the coordinator's database (default DATABASE_URL)")
    .option("--json", "print the manifest as JSON")
    .addHelpText(
      "after",
      `
The dump and the manifest's job counts come from one snapshot; coordinators keep running meanwhile.
Exit 2 if --out is not empty or the database has no Tessera schema, 1 if pg_dump fails, 3 if the
database cannot be reached.

Example:
  $ tessera backup --database postgres://tessera@db/tessera --out /backups/2026-12-07`,
    )
    .action((flags: BackupFlags) => backupAction(flags, io));

  program
    .command("restore")
    .description("restore a backup into a fresh database and reconcile it with the bus")
    .argument("<dir>", "the backup's directory")
    .option("--database <url>", "the new, empty database (default DATABASE_URL)")
    .option("--nats <url>", "the NATS server to reconcile against (default NATS_URL)")
    .option("--no-reconcile", "only restore the dump (reconcile before any coordinator starts on it)")
    .option("--json", "print the report as JSON")
    .addHelpText(
      "after",
      `
Restores into an empty database only, then reconciles it with the bus before any coordinator runs on it:
Results found on the bus are applied, jobs the bus lost are sent again, and jobs the bus knows but the
backup does not (created after the backup point) are listed as lost. Start the coordinators afterwards.
Exit 2 if the database is not empty or <dir> is not a backup, 1 if pg_restore fails, 3 if the database
or NATS cannot be reached.

Example:
  $ createdb tessera_restored
  $ tessera restore /backups/2026-12-07 --database postgres://tessera@db/tessera_restored --nats nats://nats:4222`,
    )
    .action((dir: string, flags: RestoreFlags) => restoreAction(dir, flags, io));
};
