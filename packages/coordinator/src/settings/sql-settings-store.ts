import type { SqlExecutor } from "../sql/sql-client.js";
import type { SettingsStore } from "./settings-store.js";

/** Where a setting written to the database is announced (its name as the payload). */
export const SETTINGS_CHANNEL = "tessera_settings";

/** Settings in the coordinator's database (table tessera_settings), each write announced to the others on it. */
export class SqlSettingsStore implements SettingsStore {
  constructor(private readonly sql: SqlExecutor) {}

  async readSettings(): Promise<Map<string, unknown>> {
    const res = await this.sql.query<{ name: string; value: unknown }>(`SELECT name, value FROM tessera_settings`);
    return new Map(res.rows.map((r) => [r.name, r.value]));
  }

  async writeSetting(name: string, value: unknown): Promise<void> {
    await this.sql.query(
      // Other coordinators on this database reload the setting when they hear of it.
      `WITH written AS (
         INSERT INTO tessera_settings (name, value) VALUES ($1, $2)
         ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_at = now()
         RETURNING name
       )
       SELECT pg_notify('${SETTINGS_CHANNEL}', name) FROM written`,
      [name, JSON.stringify(value)],
    );
  }
}
