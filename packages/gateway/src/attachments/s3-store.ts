import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
} from "@aws-sdk/client-s3";
import {
  expiryOf,
  plainBytes,
  positiveTtl,
  shouldRewrite,
  storageKeyOf,
  type AttachmentStore,
  type StoredObjectInfo,
} from "./store.js";

export interface S3AttachmentStoreOptions {
  /** A configured client (endpoint, region, credentials, `forcePathStyle` for most non-AWS servers). */
  client: S3Client;
  bucket: string;
  /** Prepended to every key, e.g. `gateway/`. Default none. */
  prefix?: string;
  ttlMs: number;
  now?: () => number;
}

const STORED_AT = "stored-at";
const LISTING_SLACK_MS = 60_000;

/** When the store wrote the object (its own clock, in the object's metadata), else the server's LastModified. */
function storedAtOf(metadata: Record<string, string> | undefined, lastModified: Date | undefined): Date | undefined {
  const ms = Number(metadata?.[STORED_AT]);
  if (Number.isSafeInteger(ms) && ms > 0) return new Date(ms);
  return lastModified;
}

function isNotFound(err: unknown): boolean {
  const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
  return e.name === "NotFound" || e.name === "NoSuchKey" || e.$metadata?.httpStatusCode === 404;
}

/**
 * Attachments in an S3-compatible bucket. An object's age is its `LastModified` (set by the server on every
 * write); `get` and `stat` refuse (and delete) an object past its TTL, and `sweep` deletes every expired one under
 * the prefix: run it periodically (the enricher does), or add a bucket lifecycle rule where the server has them.
 */
export function s3AttachmentStore(options: S3AttachmentStoreOptions): AttachmentStore {
  const ttlMs = positiveTtl(options.ttlMs);
  const now = options.now ?? Date.now;
  const { client, bucket } = options;
  const prefix = options.prefix ?? "";
  // A listing has no metadata: an object whose LastModified (a server clock, to the second) is this close to its
  // expiry is checked with a HEAD, which reads the store's own stored-at.
  const maybeExpired = (lastModified: Date | undefined): boolean =>
    lastModified === undefined || expiryOf(lastModified, ttlMs).getTime() - LISTING_SLACK_MS <= now();
  const remove = (key: string) => client.send(new DeleteObjectCommand({ Bucket: bucket, Key: prefix + key }));

  const stat = async (key: string): Promise<StoredObjectInfo | undefined> => {
    let head;
    try {
      head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: prefix + key }));
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
    const storedAt = storedAtOf(head.Metadata, head.LastModified);
    if (storedAt === undefined || expiryOf(storedAt, ttlMs).getTime() <= now()) {
      await remove(key);
      return undefined;
    }
    return { byteSize: head.ContentLength ?? 0, storedAt, expiresAt: expiryOf(storedAt, ttlMs) };
  };

  return {
    ttlMs,
    stat,
    async put(bytes, meta) {
      const { sha256, key } = storageKeyOf(bytes);
      const existing = await stat(key);
      if (!shouldRewrite(existing, now(), ttlMs) && existing !== undefined)
        return { key, sha256, deduplicated: true, ...existing };
      await client.send(
        new PutObjectCommand({
          Bucket: bucket,
          Key: prefix + key,
          Body: bytes,
          ContentLength: bytes.byteLength,
          Metadata: { [STORED_AT]: String(now()), sha256 },
          ...(meta?.contentType !== undefined ? { ContentType: meta.contentType } : {}),
        }),
      );
      const written = await stat(key);
      if (written === undefined) throw new Error(`attachment store: ${key} was written but cannot be read back`);
      return { key, sha256, deduplicated: false, ...written };
    },
    async get(key) {
      if ((await stat(key)) === undefined) return undefined;
      try {
        const res = await client.send(new GetObjectCommand({ Bucket: bucket, Key: prefix + key }));
        return res.Body === undefined ? undefined : plainBytes(await res.Body.transformToByteArray());
      } catch (err) {
        if (isNotFound(err)) return undefined;
        throw err;
      }
    },
    async sweep() {
      let deleted = 0;
      let token: string | undefined;
      do {
        const page = await client.send(
          new ListObjectsV2Command({ Bucket: bucket, Prefix: `${prefix}sha256/`, ContinuationToken: token }),
        );
        for (const object of page.Contents ?? []) {
          if (object.Key === undefined || !object.Key.startsWith(prefix) || !maybeExpired(object.LastModified))
            continue;
          // stat deletes it when it has expired.
          if ((await stat(object.Key.slice(prefix.length))) === undefined) deleted++;
        }
        token = page.IsTruncated === true ? page.NextContinuationToken : undefined;
      } while (token !== undefined);
      return deleted;
    },
  };
}
