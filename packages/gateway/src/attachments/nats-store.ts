import type { JetStreamClient } from "@nats-io/jetstream";
import { Objm, StorageType, type ObjectStore } from "@nats-io/obj";
import { nanos } from "@nats-io/transport-node";
import { attachmentBucketName } from "@tessera/contract";
import {
  expiryOf,
  plainBytes,
  positiveTtl,
  shouldRewrite,
  storageKeyOf,
  type AttachmentStore,
  type StoredObjectInfo,
} from "./store.js";

export interface NatsAttachmentStoreOptions {
  jetstream: JetStreamClient;
  ttlMs: number;
  /** Replicas of the bucket's stream (3 on a clustered NATS). Default 1. */
  replicas?: number;
  /** Default `attachmentBucketName()`; tests use their own. */
  bucket?: string;
  now?: () => number;
}

/**
 * Attachments in a JetStream object store bucket created with a TTL (the stream's max age): the server deletes
 * an object's chunks and its metadata once they are older than the TTL, and `get` refuses one that has passed it
 * even if the server has not got round to it.
 */
export async function natsAttachmentStore(options: NatsAttachmentStoreOptions): Promise<AttachmentStore> {
  const ttlMs = positiveTtl(options.ttlMs);
  const now = options.now ?? Date.now;
  const name = options.bucket ?? attachmentBucketName();
  const objm = new Objm(options.jetstream);
  const os: ObjectStore = await objm.create(name, {
    ttl: nanos(ttlMs),
    storage: StorageType.File,
    replicas: options.replicas ?? 1,
  });

  const stat = async (key: string): Promise<StoredObjectInfo | undefined> => {
    const info = await os.info(key);
    if (info === null || info.deleted) return undefined;
    const storedAt = new Date(info.mtime);
    const expiresAt = expiryOf(storedAt, ttlMs);
    return expiresAt.getTime() <= now() ? undefined : { byteSize: info.size, storedAt, expiresAt };
  };

  return {
    ttlMs,
    stat,
    async put(bytes, meta) {
      const { sha256, key } = storageKeyOf(bytes);
      const existing = await stat(key);
      if (!shouldRewrite(existing, now(), ttlMs) && existing !== undefined)
        return { key, sha256, deduplicated: true, ...existing };
      const info = await os.putBlob(
        { name: key, ...(meta?.contentType !== undefined ? { description: meta.contentType } : {}) },
        bytes,
      );
      const storedAt = new Date(info.mtime);
      return { key, sha256, byteSize: info.size, deduplicated: false, storedAt, expiresAt: expiryOf(storedAt, ttlMs) };
    },
    async get(key) {
      if ((await stat(key)) === undefined) return undefined;
      const data = await os.getBlob(key);
      return data === null ? undefined : plainBytes(data);
    },
    sweep: () => Promise.resolve(0),
  };
}
