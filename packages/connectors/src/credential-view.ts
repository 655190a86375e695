import type { ConnectionRecord, StoredCredential } from "./schemas.js";

function iso(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}

/** A stored connection as it may be shown: metadata only, the sealed box reduced to its key id. */
export function toStoredCredential(record: ConnectionRecord): StoredCredential {
  return {
    provider: record.provider,
    userId: record.userId,
    state: record.state,
    scopes: [...record.scopes],
    expiresAt: iso(record.expiresAt),
    refreshedAt: iso(record.refreshedAt),
    lastError: record.lastError,
    keyId: record.sealed?.keyId ?? null,
    connectedAt: new Date(record.createdAt).toISOString(),
    updatedAt: new Date(record.updatedAt).toISOString(),
  };
}
