import { randomBytes } from "node:crypto";

/** A payload of about `bytes` bytes: random base64 text, so compression or dedup cannot flatter a result. */
export function payloadOf(bytes: number): Uint8Array {
  return new TextEncoder().encode(
    randomBytes(Math.ceil((bytes * 3) / 4))
      .toString("base64")
      .slice(0, bytes),
  );
}

export function textPayload(bytes: number): string {
  return randomBytes(Math.ceil((bytes * 3) / 4))
    .toString("base64")
    .slice(0, bytes);
}
