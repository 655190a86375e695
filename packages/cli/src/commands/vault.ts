import {
  ConnectorError,
  VAULT_ENV,
  Vault,
  generateKeyEntry,
  keyringSourceFromEnv,
  rotateVaultKey,
} from "@tessera/connectors/storage";
import {
  SqlConnectionStore,
  SqlGatewayAccountStore,
  openSqlClient,
  rotateGatewayCredentials,
  type SqlClient,
} from "@tessera/coordinator";
import { InvalidArgumentError, type Command } from "commander";
import { CliError, usageError } from "../cli-error.js";
import type { CliIo, RegisterCommands } from "../cli-io.js";
import { ExitCode } from "../exit-codes.js";
import { positiveInteger } from "../options/parsers.js";
import { writeJson } from "../output/json.js";

interface DatabaseFlags {
  databaseUrl?: string;
  dataDir?: string;
  json?: boolean;
}

interface RotateFlags extends DatabaseFlags {
  batchSize?: number;
}

const KEYS_HELP = `The keys come from ${VAULT_ENV.keyFile} (a file, one "<key id>:<base64 of 32 bytes>" a line) or
${VAULT_ENV.keys} (the same, comma-separated). The first key is the current one: it seals. The others only open
what they sealed.`;

/**
 * Opens the coordinator's database directly: rotation needs the key material, which the admin API never
 * receives, so it runs where the key file is (a coordinator's pod, a job with the same secret mounted).
 */
async function openDatabase(flags: DatabaseFlags, io: CliIo): Promise<SqlClient> {
  const databaseUrl = flags.databaseUrl ?? io.env["DATABASE_URL"];
  const dataDir = flags.dataDir ?? io.env["TESSERA_DATA_DIR"];
  if (!databaseUrl && !dataDir)
    throw usageError("name the coordinator's database: --database-url (DATABASE_URL) or --data-dir (TESSERA_DATA_DIR)");
  const sql = await openSqlClient({
    ...(databaseUrl ? { databaseUrl } : { dataDir: dataDir! }),
    applicationName: "tessera-cli:vault",
  });
  try {
    const found = await sql.query<{ table: string | null }>(`SELECT to_regclass('tessera_connections')::text AS table`);
    if (found.rows[0]?.table === null)
      throw new CliError(
        "the database has no connections table (migration 4): start a coordinator of this version on it first",
        ExitCode.Failed,
      );
  } catch (err) {
    await sql.close();
    throw err;
  }
  return sql;
}

async function openVault(io: CliIo): Promise<Vault> {
  const keys = keyringSourceFromEnv(io.env);
  if (keys === undefined) throw usageError(`no vault keys: set ${VAULT_ENV.keyFile} or ${VAULT_ENV.keys}`);
  return Vault.create(keys);
}

/** A vault error is the operator's to fix (a missing key, a bad entry): exit 1 with its message, which names no key. */
async function vaultErrors<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof ConnectorError) throw new CliError(err.message, ExitCode.Failed);
    throw err;
  }
}

/** The gateway's accounts, when the database has them (migration 5): their credentials are boxes of the same vault. */
async function gatewayStore(sql: SqlClient): Promise<SqlGatewayAccountStore | undefined> {
  const found = await sql.query<{ table: string | null }>(
    `SELECT to_regclass('tessera_gateway_accounts')::text AS table`,
  );
  return found.rows[0]?.table === null ? undefined : new SqlGatewayAccountStore(sql);
}

function describeCounts(byKey: Record<string, number>): string {
  const entries = Object.entries(byKey);
  return entries.length === 0 ? "no sealed boxes" : entries.map(([id, n]) => `${id}: ${n}`).join(", ");
}

async function statusAction(flags: DatabaseFlags, io: CliIo): Promise<void> {
  const vault = await vaultErrors(() => openVault(io));
  const sql = await openDatabase(flags, io);
  try {
    const byKey = await new SqlConnectionStore(sql).countByKey();
    const gatewayByKey = (await (await gatewayStore(sql))?.countByKey()) ?? {};
    const status = {
      currentKeyId: vault.currentKeyId(),
      keyIds: vault.keyIds(),
      boxesByKey: byKey,
      gatewayBoxesByKey: gatewayByKey,
    };
    if (flags.json === true) return writeJson(io.stdout, status);
    io.stdout.write(`current key: ${status.currentKeyId} (keys held: ${status.keyIds.join(", ")})\n`);
    io.stdout.write(`sealed boxes by key: ${describeCounts(byKey)}\n`);
    io.stdout.write(`gateway account credentials by key: ${describeCounts(gatewayByKey)}\n`);
  } finally {
    await sql.close();
  }
}

async function rotateAction(flags: RotateFlags, io: CliIo): Promise<void> {
  const vault = await vaultErrors(() => openVault(io));
  const sql = await openDatabase(flags, io);
  try {
    const store = new SqlConnectionStore(sql);
    const gateway = await gatewayStore(sql);
    // Every key still sealing something must be in the key file, or boxes under it cannot move: checked
    // before anything is rewritten.
    const sealing = [...Object.keys(await store.countByKey()), ...Object.keys((await gateway?.countByKey()) ?? {})];
    const missing = [...new Set(sealing)].filter((id) => !vault.keyIds().includes(id));
    if (missing.length > 0)
      throw new CliError(
        `boxes are sealed under key(s) the key file does not hold: ${missing.join(", ")}`,
        ExitCode.Failed,
        ["keep the old keys in the file, after the new one, until the rotation has finished"],
      );
    const report = await vaultErrors(() =>
      rotateVaultKey(store, vault, {
        ...(flags.batchSize !== undefined ? { batchSize: flags.batchSize } : {}),
        onProgress: (done) => {
          if (flags.json !== true) io.stderr.write(`resealed ${done}\n`);
        },
      }),
    );
    const gatewayReport =
      gateway === undefined
        ? { keyId: report.keyId, resealed: 0, raced: 0, byKey: {} }
        : await vaultErrors(() =>
            rotateGatewayCredentials(gateway, vault, {
              ...(flags.batchSize !== undefined ? { batchSize: flags.batchSize } : {}),
              onProgress: (done) => {
                if (flags.json !== true) io.stderr.write(`resealed ${done} gateway account box(es)\n`);
              },
            }),
          );
    if (flags.json === true) return writeJson(io.stdout, { ...report, gateway: gatewayReport });
    io.stdout.write(
      `resealed ${report.resealed} box(es) under ${report.keyId}` +
        (report.raced > 0 ? ` (${report.raced} rewritten meanwhile by a refresh, then resealed)` : "") +
        `\nresealed ${gatewayReport.resealed} gateway account box(es) under ${report.keyId}` +
        (gatewayReport.raced > 0 ? ` (${gatewayReport.raced} rotated meanwhile, then resealed)` : "") +
        `\nsealed boxes by key: ${describeCounts(report.byKey)}\n` +
        `gateway account credentials by key: ${describeCounts(gatewayReport.byKey)}\n` +
        `every box is under ${report.keyId}: the other keys can be removed from the key file\n`,
    );
  } finally {
    await sql.close();
  }
}

function keyId(value: string): string {
  if (!/^[A-Za-z0-9._-]{1,64}$/.test(value)) throw new InvalidArgumentError("Expected 1-64 of [A-Za-z0-9._-].");
  return value;
}

const databaseOptions = (command: Command): Command =>
  command
    .option("--database-url <url>", "the coordinators' Postgres (default: DATABASE_URL)")
    .option("--data-dir <dir>", "a stopped embedded coordinator's PGlite directory (default: TESSERA_DATA_DIR)")
    .option("--json", "print the result as JSON on stdout");

/** `tessera vault`: the token vault's keys (status, rotate-key, new-key). */
export const registerVaultCommands: RegisterCommands = (program, io) => {
  const vault = program
    .command("vault")
    .description("the token vault: which keys seal the stored credentials, and moving them to a new key");

  databaseOptions(vault.command("status").description("sealed boxes per key id, and the keys this key file holds"))
    .addHelpText("after", `\n${KEYS_HELP}`)
    .action((flags: DatabaseFlags) => statusAction(flags, io));

  databaseOptions(
    vault
      .command("rotate-key")
      .description("reseal every stored credential under the current (first) key, while coordinators keep running"),
  )
    .option("--batch-size <n>", "boxes resealed per step (default 100)", positiveInteger(10_000))
    .addHelpText(
      "after",
      `
${KEYS_HELP}

Rotating without downtime:
  1. $ tessera vault new-key 2027-01     # prints an entry
  2. Put the entry first in every coordinator's key file, the old key after it. Coordinators re-read the file
     when it changes and seal new tokens under the new key; they still open the old ones.
  3. $ tessera vault rotate-key          # with the same key file; reseals the rest, a batch at a time
  4. Once it reports only the new key, remove the old one from the key files.

It walks the connections' boxes, then the gateway accounts' credentials. A credential refreshed or rotated
while this runs keeps its change (each box is swapped only if unchanged) and is resealed on the next step. Exit codes: 0 done, 1 a key is missing or boxes keep appearing under an old key,
2 usage.`,
    )
    .action((flags: RotateFlags) => rotateAction(flags, io));

  vault
    .command("new-key")
    .description("print a new random key entry (<key id>:<base64>) for the key file; nothing is stored")
    .argument("<key-id>", "a name for the key, e.g. the month it starts (2027-01)", keyId)
    .action(async (id: string) => {
      io.stdout.write(`${await generateKeyEntry(id)}\n`);
    });
};
