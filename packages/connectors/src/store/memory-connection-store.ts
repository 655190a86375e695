import type { ConnectionRecord, ConnectionWrite, PendingAuthorization, SealedBox } from "../schemas.js";
import {
  subjectOf,
  type ConnectionFilter,
  type ConnectionKey,
  type ConnectionStore,
  type LockedConnection,
  type SealedEntry,
} from "./connection-store.js";

function sameBox(a: SealedBox, b: SealedBox): boolean {
  return a.keyId === b.keyId && Buffer.from(a.box).equals(Buffer.from(b.box));
}

/** Returned rows are copies: changing what a method returns changes nothing stored, as in the SQL store. */
function copy(record: ConnectionRecord): ConnectionRecord {
  return {
    ...record,
    scopes: [...record.scopes],
    sealed: record.sealed && { keyId: record.sealed.keyId, box: new Uint8Array(record.sealed.box) },
  };
}

/**
 * The connection store of embedded mode without a database: this process's maps. Its lock is an in-process
 * queue per connection, which is all a store that cannot be shared between replicas needs.
 */
export class MemoryConnectionStore implements ConnectionStore {
  private readonly rows = new Map<string, ConnectionRecord>();
  private readonly pending = new Map<string, PendingAuthorization>();
  private readonly locks = new Map<string, Promise<unknown>>();

  constructor(private readonly now: () => number = Date.now) {}

  async putPending(pending: PendingAuthorization): Promise<void> {
    this.pending.set(pending.stateHash, { ...pending });
  }

  async takePending(stateHash: string): Promise<PendingAuthorization | undefined> {
    const found = this.pending.get(stateHash);
    this.pending.delete(stateHash);
    return found;
  }

  async prunePending(now: number): Promise<number> {
    let pruned = 0;
    for (const [hash, p] of this.pending)
      if (p.expiresAt < now) {
        this.pending.delete(hash);
        pruned++;
      }
    return pruned;
  }

  async get(key: ConnectionKey): Promise<ConnectionRecord | undefined> {
    const found = this.rows.get(subjectOf(key));
    return found && copy(found);
  }

  async list(filter: ConnectionFilter = {}): Promise<ConnectionRecord[]> {
    return [...this.rows.values()]
      .filter(
        (r) =>
          (filter.provider === undefined || r.provider === filter.provider) &&
          (filter.userId === undefined || r.userId === filter.userId) &&
          (filter.state === undefined || r.state === filter.state),
      )
      .sort((a, b) => (a.provider === b.provider ? cmp(a.userId, b.userId) : cmp(a.provider, b.provider)))
      .map(copy);
  }

  async withLock<T>(key: ConnectionKey, fn: (locked: LockedConnection) => Promise<T>): Promise<T> {
    const id = subjectOf(key);
    const before = this.locks.get(id) ?? Promise.resolve();
    const locked = (): LockedConnection => {
      const found = this.rows.get(id);
      return {
        record: found && copy(found),
        write: async (update) => this.write(key, update),
        delete: async () => void this.rows.delete(id),
      };
    };
    // Each holder waits for the one before it, whatever that one's outcome.
    const run = before.then(() => fn(locked()));
    const settled = run.then(
      () => undefined,
      () => undefined,
    );
    this.locks.set(id, settled);
    void settled.then(() => {
      if (this.locks.get(id) === settled) this.locks.delete(id);
    });
    return run;
  }

  async setCursor(key: ConnectionKey, cursor: string | null): Promise<void> {
    const row = this.rows.get(subjectOf(key));
    if (row !== undefined) row.cursor = cursor;
  }

  async sealedNotUnder(keyId: string, limit: number): Promise<SealedEntry[]> {
    const out: SealedEntry[] = [];
    for (const row of this.rows.values())
      if (row.sealed !== null && row.sealed.keyId !== keyId)
        out.push({ kind: "connection", subject: subjectOf(row), sealed: row.sealed });
    for (const p of this.pending.values())
      if (p.sealed.keyId !== keyId) out.push({ kind: "pending_authorization", subject: p.stateHash, sealed: p.sealed });
    return out.slice(0, limit);
  }

  async replaceSealed(entry: SealedEntry, next: SealedBox): Promise<boolean> {
    if (entry.kind === "pending_authorization") {
      const p = this.pending.get(entry.subject);
      if (p === undefined || !sameBox(p.sealed, entry.sealed)) return false;
      p.sealed = next;
      return true;
    }
    const row = this.rows.get(entry.subject);
    if (row === undefined || row.sealed === null || !sameBox(row.sealed, entry.sealed)) return false;
    row.sealed = next;
    return true;
  }

  async countByKey(): Promise<Record<string, number>> {
    const counts: Record<string, number> = {};
    const boxes = [...[...this.rows.values()].map((r) => r.sealed), ...[...this.pending.values()].map((p) => p.sealed)];
    for (const box of boxes) if (box !== null) counts[box.keyId] = (counts[box.keyId] ?? 0) + 1;
    return counts;
  }

  private write(key: ConnectionKey, update: ConnectionWrite): ConnectionRecord {
    const id = subjectOf(key);
    const existing = this.rows.get(id);
    const now = this.now();
    const row: ConnectionRecord = {
      provider: key.provider,
      userId: key.userId,
      state: update.state,
      scopes: [...update.scopes],
      expiresAt: update.expiresAt,
      refreshedAt: update.refreshedAt,
      lastError: update.lastError,
      cursor: update.cursor !== undefined ? update.cursor : (existing?.cursor ?? null),
      version: (existing?.version ?? 0) + 1,
      sealed: update.sealed && { keyId: update.sealed.keyId, box: new Uint8Array(update.sealed.box) },
      createdAt: existing?.createdAt ?? now,
      updatedAt: now,
    };
    this.rows.set(id, row);
    return copy(row);
  }
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
