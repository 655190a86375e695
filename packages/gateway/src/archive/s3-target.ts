import {
  DeleteObjectCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
} from "@aws-sdk/client-s3";
import { checkpointPath, CHECKPOINT_DIR, parseCheckpoint, serializeCheckpoint, type ArchiveTarget } from "./target.js";

export interface S3ArchiveTargetOptions {
  client: S3Client;
  bucket: string;
  /** Prepended to every key, e.g. `archive/`. Default none. */
  prefix?: string;
}

/**
 * An archive in an S3-compatible bucket. A PutObject is atomic (readers see the whole object or none) and durable
 * once acknowledged, which is all the sink needs; there are no temporary objects to clean.
 */
export function s3ArchiveTarget(options: S3ArchiveTargetOptions): ArchiveTarget {
  const { client, bucket } = options;
  const prefix = options.prefix ?? "";
  const get = async (key: string): Promise<Uint8Array | undefined> => {
    try {
      const res = await client.send(new GetObjectCommand({ Bucket: bucket, Key: prefix + key }));
      return res.Body === undefined ? undefined : await res.Body.transformToByteArray();
    } catch (err) {
      const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
      if (e.name === "NoSuchKey" || e.$metadata?.httpStatusCode === 404) return undefined;
      throw err;
    }
  };
  const put = async (key: string, bytes: Uint8Array): Promise<void> => {
    await client.send(
      new PutObjectCommand({ Bucket: bucket, Key: prefix + key, Body: bytes, ContentLength: bytes.byteLength }),
    );
  };
  return {
    write: put,
    async remove(path) {
      await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: prefix + path }));
    },
    async readCheckpoint(consumer) {
      const bytes = await get(checkpointPath(consumer));
      return bytes === undefined
        ? undefined
        : parseCheckpoint(bytes, `s3://${bucket}/${prefix}${checkpointPath(consumer)}`);
    },
    writeCheckpoint: (consumer, checkpoint) => put(checkpointPath(consumer), serializeCheckpoint(checkpoint)),
    async list() {
      const keys: string[] = [];
      let token: string | undefined;
      do {
        const page = await client.send(
          new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }),
        );
        for (const o of page.Contents ?? []) if (o.Key !== undefined) keys.push(o.Key.slice(prefix.length));
        token = page.IsTruncated === true ? page.NextContinuationToken : undefined;
      } while (token !== undefined);
      return keys.filter((k) => !k.startsWith(`${CHECKPOINT_DIR}/`)).sort();
    },
    read: get,
  };
}
