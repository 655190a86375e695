import type { SqlClient, SqlExecutor } from "./sql-client.js";

/** One schema step. Ids are strictly increasing; a released migration is never edited. */
export interface Migration {
  id: number;
  name: string;
  sql: string;
}

/** Arbitrary, fixed: every process migrating the same database must take the same advisory lock. */
const LOCK = "SELECT pg_advisory_xact_lock(7365291046)";

const CREATE_TABLE = `CREATE TABLE IF NOT EXISTS tessera_migrations (
  id         integer PRIMARY KEY,
  name       text NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now()
)`;

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

/** The ids already applied; throws when the database holds one this code does not know. */
async function appliedIds(tx: SqlExecutor, known: readonly Migration[]): Promise<Set<number>> {
  const { rows } = await tx.query<{ id: number; name: string }>("SELECT id, name FROM tessera_migrations ORDER BY id");
  const knownIds = new Set(known.map((m) => m.id));
  const unknown = rows.filter((r) => !knownIds.has(r.id));
  if (unknown.length > 0) {
    throw new Error(
      `the database has migration(s) this code does not know: ${unknown.map((r) => `${r.id} "${r.name}"`).join(", ")}. ` +
        "It was migrated by a newer version; refusing to run against a newer schema.",
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
      await tx.query("INSERT INTO tessera_migrations (id, name) VALUES ($1, $2)", [m.id, m.name]);
      return true;
    });
    if (ran) applied.push(m.id);
  }
  return applied;
}
