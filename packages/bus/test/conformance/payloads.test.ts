import { PayloadMissingError, PayloadNotOwnedError, PayloadTooLargeError } from "@tessera/bus";
import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { backends } from "./backends.js";
import { uniqueJobId } from "./fixtures.js";
import { useBackend } from "./harness.js";

const MB = 1024 * 1024;

async function* chunked(data: Uint8Array, size: number): AsyncGenerator<Uint8Array> {
  for (let at = 0; at < data.byteLength; at += size) yield data.subarray(at, Math.min(at + size, data.byteLength));
}

describe.each(backends)("[$name] payloads by reference", (backend) => {
  const h = useBackend(backend);

  it("round-trips 5 MB for the owning job, from bytes and from a stream of chunks", async () => {
    const job = uniqueJobId();
    const data = randomBytes(5 * MB);
    const ref = await h.bus.payloads.put(job, data);
    expect(ref.byte_size).toBe(5 * MB);
    expect(ref.object_ref.startsWith(`${job}/`)).toBe(true);
    expect(Buffer.from(await h.bus.payloads.get(ref, { jobId: job, maxBytes: 5 * MB })).equals(data)).toBe(true);

    const streamed = await h.bus.payloads.put(job, chunked(data, 100_000));
    expect(streamed.byte_size).toBe(5 * MB);
    expect(streamed.object_ref).not.toBe(ref.object_ref);
    expect(Buffer.from(await h.bus.payloads.get(streamed, { jobId: job, maxBytes: 6 * MB })).equals(data)).toBe(true);
  });

  it("refuses reads and deletes by another job, including one whose id is a prefix of the owner's", async () => {
    const owner = uniqueJobId();
    const ref = await h.bus.payloads.put(owner, new Uint8Array([1]));
    await expect(h.bus.payloads.get(ref, { jobId: uniqueJobId(), maxBytes: 10 })).rejects.toBeInstanceOf(
      PayloadNotOwnedError,
    );
    await expect(h.bus.payloads.delete(ref, { jobId: uniqueJobId() })).rejects.toBeInstanceOf(PayloadNotOwnedError);
    await expect(h.bus.payloads.get(ref, { jobId: owner.slice(0, -1), maxBytes: 10 })).rejects.toBeInstanceOf(
      PayloadNotOwnedError,
    );
    expect([...(await h.bus.payloads.get(ref, { jobId: owner, maxBytes: 10 }))]).toEqual([1]);
  });

  it("refuses before reading when the declared byte_size exceeds maxBytes", async () => {
    const job = uniqueJobId();
    const ref = await h.bus.payloads.put(job, randomBytes(2048));
    await expect(h.bus.payloads.get(ref, { jobId: job, maxBytes: 2047 })).rejects.toBeInstanceOf(PayloadTooLargeError);
    expect((await h.bus.payloads.get(ref, { jobId: job, maxBytes: 2048 })).byteLength).toBe(2048);
  });

  it("stops reading when more than maxBytes arrive, whatever the reference declares", async () => {
    const job = uniqueJobId();
    const ref = await h.bus.payloads.put(job, randomBytes(5 * MB));
    await expect(h.bus.payloads.get({ ...ref, byte_size: 10 }, { jobId: job, maxBytes: MB })).rejects.toBeInstanceOf(
      PayloadTooLargeError,
    );
  });

  it("refuses to store more than put's maxBytes, from bytes or from a stream", async () => {
    const job = uniqueJobId();
    await expect(h.bus.payloads.put(job, randomBytes(2 * MB), { maxBytes: MB })).rejects.toBeInstanceOf(
      PayloadTooLargeError,
    );
    await expect(
      h.bus.payloads.put(job, chunked(randomBytes(2 * MB), 64 * 1024), { maxBytes: MB }),
    ).rejects.toBeInstanceOf(PayloadTooLargeError);
    expect((await h.bus.payloads.put(job, randomBytes(MB), { maxBytes: MB })).byte_size).toBe(MB);
  });

  it("reports a missing object as PayloadMissingError; delete is true once, then false", async () => {
    const job = uniqueJobId();
    const ref = await h.bus.payloads.put(job, new Uint8Array([1, 2]));
    expect(await h.bus.payloads.delete(ref, { jobId: job })).toBe(true);
    expect(await h.bus.payloads.delete(ref, { jobId: job })).toBe(false);
    await expect(h.bus.payloads.get(ref, { jobId: job, maxBytes: 10 })).rejects.toBeInstanceOf(PayloadMissingError);
    await expect(
      h.bus.payloads.get({ object_ref: `${job}/never-stored`, byte_size: 1 }, { jobId: job, maxBytes: 10 }),
    ).rejects.toBeInstanceOf(PayloadMissingError);
  });
});
