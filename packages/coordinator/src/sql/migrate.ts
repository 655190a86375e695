import type { SqlClient, SqlExecutor } from "./sql-client.js";

/** One schema step. Ids are strictly increasing; a released migration is never edited. */
export interface Migration {
  id: number;
  name: string;
  sql: string;
  /**
   * The oldest code that keeps working on a schema with this migration applied, named by the newest
   * migration that code knows: an expand step (a new table, a nullable column) names the migration before
   * it, so the previous release keeps running during a rolling upgrade and after a rollback. Absent: only
   * code that knows this migration may run (a contract step). Recorded in the database, because the older
   * code that has to read it does not know this migration.
   */
  compatibleWith?: number;
}

/** Arbitrary, fixed: every process migrating the same database must take the same advisory lock. */
const LOCK = "SELECT pg_advisory_xact_lock(7365291046)";

const CREATE_TABLE = `CREATE TABLE IF NOT EXISTS tessera_migrations (
  id         integer PRIMARY KEY,
  name       text NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now()
)`;
/** Bookkeeping, not a migration: databases created before compatibility was recorded gain the column. */
const ADD_COMPATIBILITY = "ALTER TABLE tessera_migrations ADD COLUMN IF NOT EXISTS compatible_with integer";

function checkOrder(migrations: readonly Migration[]): void {
  migrations.forEach((m, i) => {
    const prev = migrations[i - 1];
    if (!Number.isInteger(m.id) || (prev !== undefined && m.id <= prev.id)) {
      throw new Error(
        `migration ids must be strictly increasing integers: ${String(m.id)} ("${m.name}") follows ${String(prev?.id)}`,
      );
    }
  });
}

/**
 * The ids already applied. Throws when the database holds a migration this code does not know and that
 * does not say this code stays compatible with it (a newer release's contract step).
 */
async function appliedIds(tx: SqlExecutor, known: readonly Migration[]): Promise<Set<number>> {
  const { rows } = await tx.query<{ id: number; name: string; compatible_with: number | null }>(
    "SELECT id, name, compatible_with FROM tessera_migrations ORDER BY id",
  );
  const knownIds = new Set(known.map((m) => m.id));
  const incompatible = rows.filter(
    (r) => !knownIds.has(r.id) && (r.compatible_with === null || !knownIds.has(r.compatible_with)),
  );
  if (incompatible.length > 0) {
    const why = (r: (typeof rows)[number]): string =>
      r.compatible_with === null
        ? `${r.id} "${r.name}"`
        : `${r.id} "${r.name}" (runs with code that knows migration ${r.compatible_with} or later)`;
    throw new Error(
      `the database has migration(s) this code does not know: ${incompatible.map(why).join(", ")}. ` +
        "It was migrated by a newer version that is not compatible with this one; refusing to run against its schema.",
    );
  }
  return new Set(rows.map((r) => r.id));
}

/**
 * Brings the schema up to date: applies the migrations the database lacks, in id order, each in its own
 * transaction together with its bookkeeping row. Every step holds a transaction-scoped advisory lock, so
 * processes starting together apply each migration once. Returns the ids this call applied.
 */
export async function migrate(client: SqlClient, migrations: readonly Migration[]): Promise<number[]> {
  checkOrder(migrations);
  // Under the lock too: two concurrent CREATE TABLE IF NOT EXISTS can both pass the check and one then fails.
  const initial = await client.transaction(async (tx) => {
    await tx.query(LOCK);
    await tx.query(CREATE_TABLE);
    await tx.query(ADD_COMPATIBILITY);
    return appliedIds(tx, migrations);
  });
  const applied: number[] = [];
  for (const m of migrations) {
    if (initial.has(m.id)) continue;
    const ran = await client.transaction(async (tx) => {
      await tx.query(LOCK);
      // Another process may have applied it while this one waited for the lock.
      if ((await appliedIds(tx, migrations)).has(m.id)) return false;
      await tx.query(m.sql);
      await tx.query("INSERT INTO tessera_migrations (id, name, compatible_with) VALUES ($1, $2, $3)", [
        m.id,
        m.name,
        m.compatibleWith ?? null,
      ]);
      return true;
    });
    if (ran) applied.push(m.id);
  }
  return applied;
}
