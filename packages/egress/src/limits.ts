import { FetchTimeoutError, FetchTooLargeError } from "./errors.js";

/**
 * One time budget for a whole fetch: connecting, every redirect and reading the body. Its signal aborts undici's
 * fetch with a `FetchTimeoutError` as the reason, so whichever of those steps is running rejects with it.
 */
export class Deadline {
  readonly signal: AbortSignal;
  readonly #timer: NodeJS.Timeout;

  constructor(url: string, timeoutMs: number, callerSignal?: AbortSignal) {
    const own = new AbortController();
    this.#timer = setTimeout(() => own.abort(new FetchTimeoutError(url, timeoutMs)), timeoutMs);
    this.signal = callerSignal === undefined ? own.signal : AbortSignal.any([own.signal, callerSignal]);
  }

  /** Called once the body is read, cancelled or failed: until then the budget keeps running. */
  finish(): void {
    clearTimeout(this.#timer);
  }
}

/**
 * Passes `body` through while counting its bytes and fails it with `FetchTooLargeError` past `maxBytes`,
 * cancelling the source so the connection closes there instead of draining the rest. It pulls one chunk per read
 * (high-water mark 0) so nothing is buffered ahead of the caller. Bytes are counted after decompression: that is
 * what the caller holds, and a small gzip body can inflate far past the cap.
 */
export function capBody(
  body: ReadableStream<Uint8Array>,
  url: string,
  maxBytes: number,
  done: () => void,
  translate: (err: unknown) => unknown,
): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  let seen = 0;
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        let chunk: Awaited<ReturnType<typeof reader.read>>;
        try {
          chunk = await reader.read();
        } catch (err) {
          done();
          controller.error(translate(err));
          return;
        }
        if (chunk.done) {
          done();
          controller.close();
          return;
        }
        seen += chunk.value.byteLength;
        if (seen > maxBytes) {
          const tooLarge = new FetchTooLargeError(url, maxBytes, seen);
          done();
          controller.error(tooLarge);
          await reader.cancel(tooLarge).catch(() => undefined);
          return;
        }
        controller.enqueue(chunk.value);
      },
      async cancel(reason) {
        done();
        await reader.cancel(reason);
      },
    },
    { highWaterMark: 0 },
  );
}
