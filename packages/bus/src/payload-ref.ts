import { randomUUID } from "node:crypto";
import type { ContentRef } from "@tessera/contract";
import { PayloadNotOwnedError, PayloadTooLargeError } from "./errors.js";

/** `<job_id>/<random>`: the job id is the prefix, so ownership is checked without a lookup. */
export function newObjectRef(jobId: string): string {
  return `${jobId}/${randomUUID()}`;
}

export function assertOwned(ref: ContentRef, jobId: string): void {
  if (!ref.object_ref.startsWith(`${jobId}/`)) throw new PayloadNotOwnedError(ref.object_ref, jobId);
}

export function assertDeclaredSize(ref: ContentRef, maxBytes: number): void {
  if (ref.byte_size > maxBytes) throw new PayloadTooLargeError(ref.object_ref, maxBytes, ref.byte_size);
}

/** Collects chunks, failing as soon as more than `maxBytes` have arrived. */
export async function collectBounded(
  chunks: AsyncIterable<Uint8Array>,
  maxBytes: number,
  ref: string,
): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  let total = 0;
  for await (const chunk of chunks) {
    total += chunk.byteLength;
    if (total > maxBytes) throw new PayloadTooLargeError(ref, maxBytes, total);
    parts.push(chunk);
  }
  return concatBytes(parts, total);
}

export function concatBytes(
  parts: readonly Uint8Array[],
  total = parts.reduce((n, p) => n + p.byteLength, 0),
): Uint8Array {
  if (parts.length === 1) return parts[0] as Uint8Array;
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}
