import type { SqlClient } from "../sql/sql-client.js";

/** How long after a slot was taken the sweep may free it: longer than any acquisition takes to commit. */
const SWEEP_GRACE = "interval '10 seconds'";
/**
 * A key row unused this long has a full bucket whatever its rate (intervals are at most a day), so deleting
 * it changes nothing but the table's size.
 */
const KEY_ROW_IDLE = "interval '25 hours'";

/**
 * What coordinators sharing one SQL database keep about each other: presence rows (a claim on the outbox is
 * live while its coordinator's row is), named leases for work that runs once, and the sweep that frees limit
 * slots a race or a crash left behind.
 */
export class ReplicaStore {
  constructor(private readonly sql: SqlClient) {}

  /** Marks `id` alive for `ttlMs` more. */
  async renewPresence(id: string, ttlMs: number): Promise<void> {
    await this.sql.query(
      `INSERT INTO tessera_coordinators (id, alive_until) VALUES ($1, now() + $2 * interval '1 millisecond')
       ON CONFLICT (id) DO UPDATE SET alive_until = excluded.alive_until`,
      [id, ttlMs],
      { prepareAs: "tessera_renew_presence" },
    );
  }

  /** A coordinator stopping: its claims and leases are free at once, not when they lapse. */
  async retire(id: string): Promise<void> {
    await this.sql.query(
      `WITH gone AS (DELETE FROM tessera_coordinators WHERE id = $1),
            released AS (UPDATE tessera_outbox SET claimed_by = NULL WHERE claimed_by = $1)
       DELETE FROM tessera_leases WHERE holder = $1`,
      [id],
    );
  }

  /** Takes or renews the lease `name` for `ttlMs`; true when `id` holds it. */
  async holdLease(name: string, id: string, ttlMs: number): Promise<boolean> {
    const res = await this.sql.query<{ holder: string }>(
      `INSERT INTO tessera_leases (name, holder, expires_at) VALUES ($1, $2, now() + $3 * interval '1 millisecond')
       ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
        WHERE tessera_leases.holder = excluded.holder OR tessera_leases.expires_at < now()
       RETURNING holder`,
      [name, id, ttlMs],
      { prepareAs: "tessera_hold_lease" },
    );
    return res.rows[0]?.holder === id;
  }

  /** Coordinators whose presence has not lapsed. */
  async live(): Promise<string[]> {
    const res = await this.sql.query<{ id: string }>(
      `SELECT id FROM tessera_coordinators WHERE alive_until > now() ORDER BY id`,
    );
    return res.rows.map((r) => r.id);
  }

  /**
   * Frees slots whose job is decided or gone (an acquisition that raced a decision, a job deleted by hand),
   * forgets presence rows lapsed for an hour and key rows long idle. Returns the slots freed.
   */
  async sweep(): Promise<number> {
    const res = await this.sql.query<{ freed: number }>(
      `WITH freed AS (
         DELETE FROM tessera_limit_slots s
          WHERE s.acquired_at < now() - ${SWEEP_GRACE}
            AND NOT EXISTS (SELECT 1 FROM tessera_jobs j WHERE j.job_id = s.job_id AND j.state IN ('pending', 'queued'))
         RETURNING 1
       ), lapsed AS (
         DELETE FROM tessera_coordinators WHERE alive_until < now() - interval '1 hour'
       ), idle AS (
         DELETE FROM tessera_limit_keys k
          WHERE k.refilled_at < now() - ${KEY_ROW_IDLE}
            AND NOT EXISTS (SELECT 1 FROM tessera_limit_slots s WHERE s.component = k.component AND s.limit_key = k.limit_key)
       )
       SELECT count(*)::int AS freed FROM freed`,
    );
    return res.rows[0]?.freed ?? 0;
  }
}
