import type {
  ConnectionFilter,
  ConnectionKey,
  ConnectionRecord,
  ConnectionStore,
  ConnectionWrite,
  LockedConnection,
  PendingAuthorization,
  SealedBox,
  SealedEntry,
} from "@tessera/connectors";
import type { SqlClient, SqlExecutor } from "../sql/sql-client.js";
import { KeyedMutex, Semaphore } from "./key-mutex.js";

/**
 * The advisory-lock namespace of connection locks (the two-int form, so it never meets the migrations'
 * one-bigint lock); the second int is the hash of `provider/user`. A hash collision only serializes two
 * connections' refreshes, it never lets two refreshes of one connection run together.
 */
const LOCK_NAMESPACE = 0x7e55c0;

const COLUMNS = `provider, user_id, state, scopes, cursor, version::float8 AS version, key_id, sealed, last_error,
  (extract(epoch FROM expires_at) * 1000)::float8 AS expires_at,
  (extract(epoch FROM refreshed_at) * 1000)::float8 AS refreshed_at,
  (extract(epoch FROM created_at) * 1000)::float8 AS created_at,
  (extract(epoch FROM updated_at) * 1000)::float8 AS updated_at`;

interface Row extends Record<string, unknown> {
  provider: string;
  user_id: string;
  state: ConnectionRecord["state"];
  scopes: string[];
  cursor: string | null;
  version: number;
  key_id: string | null;
  sealed: Uint8Array | null;
  last_error: string | null;
  expires_at: number | null;
  refreshed_at: number | null;
  created_at: number;
  updated_at: number;
}

function toRecord(r: Row): ConnectionRecord {
  return {
    provider: r.provider,
    userId: r.user_id,
    state: r.state,
    scopes: r.scopes,
    expiresAt: r.expires_at,
    refreshedAt: r.refreshed_at,
    lastError: r.last_error,
    cursor: r.cursor,
    version: r.version,
    // pg gives a Buffer, PGlite a Uint8Array: both are handed on as a plain Uint8Array.
    sealed: r.key_id === null || r.sealed === null ? null : { keyId: r.key_id, box: new Uint8Array(r.sealed) },
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

const toTimestamp = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
const bytes = (box: Uint8Array) => Buffer.from(box.buffer, box.byteOffset, box.byteLength);

export interface SqlConnectionStoreOptions {
  /**
   * Locks held at once by this process (default 4). On Postgres a lock holds a pooled connection for as long
   * as the refresh's HTTP call takes; this keeps refreshes from taking the pool the job path needs.
   */
  maxLocks?: number;
}

/**
 * Connections in the coordinator's SQL database (migration 4). On Postgres, `withLock` takes a transaction-
 * scoped advisory lock per connection, which every coordinator replica on the database shares, and reads the
 * row after taking it; the holder's writes commit with the transaction. On PGlite, which is one process's
 * database (and whose open transaction would stall every other statement for the length of an HTTP call), the
 * lock is an in-process one and writes commit as they go.
 */
export class SqlConnectionStore implements ConnectionStore {
  private readonly local = new KeyedMutex();
  private readonly slots: Semaphore;

  constructor(
    private readonly sql: SqlClient,
    options: SqlConnectionStoreOptions = {},
  ) {
    this.slots = new Semaphore(options.maxLocks ?? 4);
  }

  async putPending(p: PendingAuthorization): Promise<void> {
    await this.sql.query(
      `INSERT INTO tessera_oauth_pending (state_hash, provider, user_id, key_id, sealed, expires_at)
       VALUES ($1, $2, $3, $4, $5, $6)`,
      [p.stateHash, p.provider, p.userId, p.sealed.keyId, bytes(p.sealed.box), toTimestamp(p.expiresAt)],
    );
  }

  async takePending(stateHash: string): Promise<PendingAuthorization | undefined> {
    const res = await this.sql.query<{
      state_hash: string;
      provider: string;
      user_id: string;
      key_id: string;
      sealed: Uint8Array;
      expires_at: number;
    }>(
      `DELETE FROM tessera_oauth_pending WHERE state_hash = $1
       RETURNING state_hash, provider, user_id, key_id, sealed, (extract(epoch FROM expires_at) * 1000)::float8 AS expires_at`,
      [stateHash],
    );
    const r = res.rows[0];
    return (
      r && {
        stateHash: r.state_hash,
        provider: r.provider,
        userId: r.user_id,
        sealed: { keyId: r.key_id, box: new Uint8Array(r.sealed) },
        expiresAt: r.expires_at,
      }
    );
  }

  async prunePending(now: number): Promise<number> {
    const res = await this.sql.query(`DELETE FROM tessera_oauth_pending WHERE expires_at < $1`, [toTimestamp(now)]);
    return res.rowCount;
  }

  async get(key: ConnectionKey): Promise<ConnectionRecord | undefined> {
    return read(this.sql, key);
  }

  async list(filter: ConnectionFilter = {}): Promise<ConnectionRecord[]> {
    const res = await this.sql.query<Row>(
      `SELECT ${COLUMNS} FROM tessera_connections
        WHERE ($1::text IS NULL OR provider = $1) AND ($2::text IS NULL OR user_id = $2) AND ($3::text IS NULL OR state = $3)
        ORDER BY provider, user_id`,
      [filter.provider ?? null, filter.userId ?? null, filter.state ?? null],
    );
    return res.rows.map(toRecord);
  }

  async withLock<T>(key: ConnectionKey, fn: (locked: LockedConnection) => Promise<T>): Promise<T> {
    const subject = `${key.provider}/${key.userId}`;
    // One waiter per connection in this process: the others queue here rather than each holding a connection.
    return this.local.run(subject, () =>
      this.slots.run(async () => {
        if (this.sql.dialect !== "postgres") return fn(await this.locked(this.sql, key));
        return this.sql.transaction(async (tx) => {
          await tx.query(`SELECT pg_advisory_xact_lock($1, hashtext($2))`, [LOCK_NAMESPACE, subject]);
          // A statement after the lock: under READ COMMITTED it sees what the previous holder committed.
          return fn(await this.locked(tx, key));
        });
      }),
    );
  }

  async setCursor(key: ConnectionKey, cursor: string | null): Promise<void> {
    await this.sql.query(`UPDATE tessera_connections SET cursor = $3 WHERE provider = $1 AND user_id = $2`, [
      key.provider,
      key.userId,
      cursor,
    ]);
  }

  async sealedNotUnder(keyId: string, limit: number): Promise<SealedEntry[]> {
    const res = await this.sql.query<{
      kind: SealedEntry["kind"];
      subject: string;
      key_id: string;
      sealed: Uint8Array;
    }>(
      // "< or >" rather than "<>": a btree index serves the two ranges, so late in a rotation, when almost
      // every row is under the new key, a step reads the few left instead of scanning the table.
      `(SELECT 'connection' AS kind, provider || '/' || user_id AS subject, key_id, sealed FROM tessera_connections
         WHERE key_id < $1 OR key_id > $1 LIMIT $2)
       UNION ALL
       (SELECT 'pending_authorization', state_hash, key_id, sealed FROM tessera_oauth_pending WHERE key_id <> $1 LIMIT $2)
       LIMIT $2`,
      [keyId, limit],
    );
    return res.rows.map((r) => ({
      kind: r.kind,
      subject: r.subject,
      sealed: { keyId: r.key_id, box: new Uint8Array(r.sealed) },
    }));
  }

  async replaceSealed(entry: SealedEntry, next: SealedBox): Promise<boolean> {
    const swap = [next.keyId, bytes(next.box), entry.sealed.keyId, bytes(entry.sealed.box)];
    if (entry.kind === "pending_authorization") {
      const res = await this.sql.query(
        `UPDATE tessera_oauth_pending SET key_id = $1, sealed = $2 WHERE state_hash = $5 AND key_id = $3 AND sealed = $4`,
        [...swap, entry.subject],
      );
      return res.rowCount === 1;
    }
    // Provider ids have no "/" (their schema says so); a user id may.
    const slash = entry.subject.indexOf("/");
    const res = await this.sql.query(
      `UPDATE tessera_connections SET key_id = $1, sealed = $2
        WHERE provider = $5 AND user_id = $6 AND key_id = $3 AND sealed = $4`,
      [...swap, entry.subject.slice(0, slash), entry.subject.slice(slash + 1)],
    );
    return res.rowCount === 1;
  }

  async countByKey(): Promise<Record<string, number>> {
    const res = await this.sql.query<{ key_id: string; n: number }>(
      `SELECT key_id, count(*)::int AS n FROM (
         SELECT key_id FROM tessera_connections WHERE key_id IS NOT NULL
         UNION ALL SELECT key_id FROM tessera_oauth_pending
       ) boxes GROUP BY key_id`,
    );
    return Object.fromEntries(res.rows.map((r) => [r.key_id, r.n]));
  }

  private async locked(executor: SqlExecutor, key: ConnectionKey): Promise<LockedConnection> {
    return {
      record: await read(executor, key),
      write: (update) => write(executor, key, update),
      delete: async () => {
        await executor.query(`DELETE FROM tessera_connections WHERE provider = $1 AND user_id = $2`, [
          key.provider,
          key.userId,
        ]);
      },
    };
  }
}

async function read(executor: SqlExecutor, key: ConnectionKey): Promise<ConnectionRecord | undefined> {
  const res = await executor.query<Row>(
    `SELECT ${COLUMNS} FROM tessera_connections WHERE provider = $1 AND user_id = $2`,
    [key.provider, key.userId],
  );
  return res.rows[0] && toRecord(res.rows[0]);
}

async function write(executor: SqlExecutor, key: ConnectionKey, u: ConnectionWrite): Promise<ConnectionRecord> {
  const res = await executor.query<Row>(
    `INSERT INTO tessera_connections AS c
       (provider, user_id, state, scopes, expires_at, refreshed_at, last_error, key_id, sealed, cursor)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
     ON CONFLICT (provider, user_id) DO UPDATE SET
       state = excluded.state, scopes = excluded.scopes, expires_at = excluded.expires_at,
       refreshed_at = excluded.refreshed_at, last_error = excluded.last_error, key_id = excluded.key_id,
       sealed = excluded.sealed, cursor = CASE WHEN $11 THEN excluded.cursor ELSE c.cursor END,
       version = c.version + 1, updated_at = now()
     RETURNING ${COLUMNS}`,
    [
      key.provider,
      key.userId,
      u.state,
      u.scopes,
      toTimestamp(u.expiresAt),
      toTimestamp(u.refreshedAt),
      u.lastError,
      u.sealed?.keyId ?? null,
      u.sealed === null ? null : bytes(u.sealed.box),
      u.cursor ?? null,
      u.cursor !== undefined,
    ],
  );
  return toRecord(res.rows[0]!);
}
