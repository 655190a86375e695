import { createHash } from "node:crypto";
import { attachmentStorageKey } from "@tessera/contract";

/*
 * Where attachments' bytes live: content-addressed by sha256 (`sha256/<hex>`, so equal bytes are stored once
 * whoever sent them) and kept for a TTL. Two backends: the bus's JetStream object store (the server deletes
 * expired chunks) and an S3-compatible bucket (S3 has lifecycle rules but fakes do not, so the store refuses
 * and sweeps expired objects itself). Decision 0041.
 */

export interface StoredAttachment {
  key: string;
  sha256: string;
  byteSize: number;
  /** True when the bytes were already stored and fresh enough, so nothing was written. */
  deduplicated: boolean;
  storedAt: Date;
  expiresAt: Date;
}

export interface StoredObjectInfo {
  byteSize: number;
  storedAt: Date;
  expiresAt: Date;
}

export interface AttachmentStore {
  /** How long an object lives after it was (last) written. */
  readonly ttlMs: number;
  /** Stores `bytes` under their sha256, or reuses the stored copy (see `shouldRewrite`). */
  put(bytes: Uint8Array, meta?: { contentType?: string }): Promise<StoredAttachment>;
  /** The bytes, or undefined when the key is unknown or its TTL has passed (an expired object is refused). */
  get(key: string): Promise<Uint8Array | undefined>;
  /** What is stored under `key`, or undefined (unknown or expired). */
  stat(key: string): Promise<StoredObjectInfo | undefined>;
  /** Deletes what has expired and says how many; the object store's server does this by itself (returns 0). */
  sweep(): Promise<number>;
}

export function sha256Hex(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

export function storageKeyOf(bytes: Uint8Array): { sha256: string; key: string } {
  const sha256 = sha256Hex(bytes);
  return { sha256, key: attachmentStorageKey(sha256) };
}

/**
 * Whether to write bytes that may already be stored. A fresh copy is reused (deduplication); one with less than
 * half its TTL left is written again, which restarts its TTL: every Message that names a key gets at least half a
 * TTL to read it, and a popular file (a logo in every signature) never expires while it keeps arriving.
 */
export function shouldRewrite(existing: StoredObjectInfo | undefined, now: number, ttlMs: number): boolean {
  return existing === undefined || existing.expiresAt.getTime() - now < ttlMs / 2;
}

export function expiryOf(storedAt: Date, ttlMs: number): Date {
  return new Date(storedAt.getTime() + ttlMs);
}

export function positiveTtl(ttlMs: number): number {
  if (!Number.isSafeInteger(ttlMs) || ttlMs < 1000)
    throw new RangeError(`attachment store ttlMs: expected a whole number of milliseconds >= 1000, got ${ttlMs}`);
  return ttlMs;
}

/** A plain Uint8Array view (clients hand back Buffers), so callers compare and hash one type. */
export function plainBytes(data: Uint8Array): Uint8Array {
  return data.constructor === Uint8Array ? data : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}
