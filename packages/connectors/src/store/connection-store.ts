import type {
  ConnectionRecord,
  ConnectionState,
  ConnectionWrite,
  PendingAuthorization,
  SealedBox,
} from "../schemas.js";

export interface ConnectionKey {
  provider: string;
  userId: string;
}

/** A connection read while its lock is held, and the one way to write it under that lock. */
export interface LockedConnection {
  /** Read after the lock was taken: what every other holder committed before is in it. */
  readonly record: ConnectionRecord | undefined;
  /** Writes the connection (created if absent) and counts a new version. */
  write(update: ConnectionWrite): Promise<ConnectionRecord>;
  /** Deletes the connection and its sealed tokens. */
  delete(): Promise<void>;
}

/** One sealed box in the store, as key rotation sees it. */
export interface SealedEntry {
  kind: "connection" | "pending_authorization";
  /** `provider` + `/` + `userId`, or the state hash. */
  subject: string;
  sealed: SealedBox;
}

export interface ConnectionFilter {
  provider?: string;
  userId?: string;
  state?: ConnectionState;
}

/**
 * What the connectors ask of the coordinator's store. Implemented by the memory store here
 * (`MemoryConnectionStore`) and by the coordinator's SQL store on Postgres and PGlite; one contract suite runs on
 * all three. Tokens reach a store only sealed: nothing here takes or returns a plaintext credential.
 */
export interface ConnectionStore {
  /** Keeps an authorization in progress until `takePending` or its expiry. */
  putPending(pending: PendingAuthorization): Promise<void>;
  /**
   * Takes the authorization with this state hash and deletes it, expired or not, in one step: of two callbacks
   * carrying one state, at most one gets it. Undefined when there is none.
   */
  takePending(stateHash: string): Promise<PendingAuthorization | undefined>;
  /** Deletes authorizations that expired before `now` (epoch ms); returns how many. */
  prunePending(now: number): Promise<number>;

  get(key: ConnectionKey): Promise<ConnectionRecord | undefined>;
  /** By provider, then user. */
  list(filter?: ConnectionFilter): Promise<ConnectionRecord[]>;
  /**
   * Runs `fn` holding this connection's lock, shared by every store instance on the same database (every
   * coordinator replica), and gives it the connection as read under the lock. The lock is released when `fn`
   * settles. This is what makes one refresh in flight per connection. A SQL store commits `fn`'s writes only
   * if it resolves (they are one transaction), the memory store as they are made: a holder that has written
   * returns its failure rather than throwing it.
   */
  withLock<T>(key: ConnectionKey, fn: (locked: LockedConnection) => Promise<T>): Promise<T>;
  /** Sets the sync cursor only; the version is unchanged (it counts credential writes). */
  setCursor(key: ConnectionKey, cursor: string | null): Promise<void>;

  /** Up to `limit` sealed boxes not under `keyId`: what a key rotation has left to do. */
  sealedNotUnder(keyId: string, limit: number): Promise<SealedEntry[]>;
  /**
   * Replaces `entry`'s box with `next` only if the store still holds exactly `entry.sealed` (same key id and
   * bytes): a refresh that rewrote it meanwhile wins, and the rotation picks the new box up on its next pass.
   */
  replaceSealed(entry: SealedEntry, next: SealedBox): Promise<boolean>;
  /** How many boxes each key id seals, over connections and pending authorizations. */
  countByKey(): Promise<Record<string, number>>;
}

export function subjectOf(key: ConnectionKey): string {
  return `${key.provider}/${key.userId}`;
}
