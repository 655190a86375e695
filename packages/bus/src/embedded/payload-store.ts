import type { ContentRef } from "@tessera/contract";
import type { PayloadStore } from "../bus.js";
import { PayloadMissingError, PayloadTooLargeError } from "../errors.js";
import { assertDeclaredSize, assertOwned, collectBounded, newObjectRef } from "../payload-ref.js";

/** Payloads in memory, with the same ownership, size and TTL rules as the Object Store bucket. */
export class InMemoryPayloadStore implements PayloadStore {
  private readonly objects = new Map<string, { data: Uint8Array; expiresAt: number }>();

  constructor(
    private readonly ttlMs: number,
    private readonly now: () => number,
    /** Throws BusClosedError once the bus is closed, like every other bus call. */
    private readonly assertOpen: () => void,
  ) {}

  async put(
    jobId: string,
    data: Uint8Array | AsyncIterable<Uint8Array>,
    opts: { maxBytes?: number } = {},
  ): Promise<ContentRef> {
    this.assertOpen();
    const objectRef = newObjectRef(jobId);
    const max = opts.maxBytes ?? Number.MAX_SAFE_INTEGER;
    const bytes = data instanceof Uint8Array ? data : await collectBounded(data, max, objectRef);
    if (bytes.byteLength > max) throw new PayloadTooLargeError(objectRef, max, bytes.byteLength);
    this.prune();
    // A private copy: the caller may reuse its buffer, as it could after a network put.
    this.objects.set(objectRef, { data: bytes.slice(), expiresAt: this.now() + this.ttlMs });
    return { object_ref: objectRef, byte_size: bytes.byteLength };
  }

  async get(ref: ContentRef, opts: { jobId: string; maxBytes: number }): Promise<Uint8Array> {
    this.assertOpen();
    assertOwned(ref, opts.jobId);
    assertDeclaredSize(ref, opts.maxBytes);
    const entry = this.live(ref.object_ref);
    if (entry === undefined) throw new PayloadMissingError(ref.object_ref);
    // The stored size is what counts, whatever the reference claims.
    if (entry.data.byteLength > opts.maxBytes)
      throw new PayloadTooLargeError(ref.object_ref, opts.maxBytes, entry.data.byteLength);
    return entry.data.slice();
  }

  async delete(ref: ContentRef, opts: { jobId: string }): Promise<boolean> {
    this.assertOpen();
    assertOwned(ref, opts.jobId);
    const existed = this.live(ref.object_ref) !== undefined;
    this.objects.delete(ref.object_ref);
    return existed;
  }

  private live(name: string): { data: Uint8Array; expiresAt: number } | undefined {
    const entry = this.objects.get(name);
    if (entry === undefined || entry.expiresAt <= this.now()) return undefined;
    return entry;
  }

  private prune(): void {
    const now = this.now();
    for (const [name, entry] of this.objects) {
      if (entry.expiresAt > now) break;
      this.objects.delete(name);
    }
  }
}
