import type { ObjectStore } from "@nats-io/obj";
import type { ContentRef } from "@tessera/contract";
import type { PayloadStore } from "../bus.js";
import { PayloadMissingError, PayloadTooLargeError } from "../errors.js";
import { assertDeclaredSize, assertOwned, collectBounded, newObjectRef } from "../payload-ref.js";

async function* bounded(
  data: Uint8Array | AsyncIterable<Uint8Array>,
  maxBytes: number | undefined,
  ref: string,
): AsyncGenerator<Uint8Array> {
  if (data instanceof Uint8Array) {
    if (maxBytes !== undefined && data.byteLength > maxBytes)
      throw new PayloadTooLargeError(ref, maxBytes, data.byteLength);
    yield data;
    return;
  }
  let total = 0;
  for await (const chunk of data) {
    total += chunk.byteLength;
    if (maxBytes !== undefined && total > maxBytes) throw new PayloadTooLargeError(ref, maxBytes, total);
    yield chunk;
  }
}

function toReadable(source: AsyncGenerator<Uint8Array>): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const { done, value } = await source.next();
        if (done) controller.close();
        else controller.enqueue(value);
      } catch (err) {
        controller.error(err);
      }
    },
    async cancel() {
      await source.return(undefined);
    },
  });
}

/** Payloads by reference on the Object Store bucket; `store()` opens (or creates) the bucket lazily. */
export class NatsPayloadStore implements PayloadStore {
  constructor(
    private readonly store: () => Promise<ObjectStore>,
    private readonly guard: () => void,
  ) {}

  async put(
    jobId: string,
    data: Uint8Array | AsyncIterable<Uint8Array>,
    opts?: { maxBytes?: number },
  ): Promise<ContentRef> {
    this.guard();
    const name = newObjectRef(jobId);
    const maxBytes = opts?.maxBytes;
    if (data instanceof Uint8Array && maxBytes !== undefined && data.byteLength > maxBytes) {
      throw new PayloadTooLargeError(name, maxBytes, data.byteLength);
    }
    const os = await this.store();
    let tooLarge: PayloadTooLargeError | undefined;
    const source = (async function* () {
      try {
        yield* bounded(data, maxBytes, name);
      } catch (err) {
        if (err instanceof PayloadTooLargeError) tooLarge = err;
        throw err;
      }
    })();
    try {
      const info = await os.put({ name }, toReadable(source));
      return { object_ref: name, byte_size: info.size };
    } catch (err) {
      // The store purges the chunks it wrote; report the size error rather than its wrapper.
      throw tooLarge ?? err;
    }
  }

  async get(ref: ContentRef, opts: { jobId: string; maxBytes: number }): Promise<Uint8Array> {
    this.guard();
    assertOwned(ref, opts.jobId);
    assertDeclaredSize(ref, opts.maxBytes);
    const os = await this.store();
    const result = await os.get(ref.object_ref);
    if (result === null) throw new PayloadMissingError(ref.object_ref);
    if (result.info.size > opts.maxBytes) {
      await result.data.cancel().catch(() => undefined);
      throw new PayloadTooLargeError(ref.object_ref, opts.maxBytes, result.info.size);
    }
    const bytes = await collectBounded(result.data, opts.maxBytes, ref.object_ref);
    // Resolves with null or undefined when the object arrived whole (digest checked); an Error otherwise.
    const failure = await result.error.catch((err: unknown) => (err instanceof Error ? err : new Error(String(err))));
    if (failure instanceof Error) throw failure;
    return bytes;
  }

  async delete(ref: ContentRef, opts: { jobId: string }): Promise<boolean> {
    this.guard();
    assertOwned(ref, opts.jobId);
    const os = await this.store();
    const info = await os.info(ref.object_ref);
    if (info === null || info.deleted) return false;
    await os.delete(ref.object_ref);
    return true;
  }
}
