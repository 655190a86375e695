import type { PayloadStore } from "@tessera/bus";
import { INLINE_OUTPUT_MAX_BYTES, type Result } from "@tessera/contract";

/** The return value cannot be serialized: a bug in the handler that no retry fixes. */
export class InvalidOutputError extends Error {
  override readonly name = "InvalidOutputError";
}

const utf8 = new TextEncoder();

/**
 * Turns a handler's return value into a Result's `output`: nothing for undefined, a reference for bytes
 * or for JSON larger than INLINE_OUTPUT_MAX_BYTES, inline `data` otherwise. Throws InvalidOutputError for
 * values JSON cannot carry; payload store errors propagate (they are transient: the job is retried).
 */
export async function toResultOutput(value: unknown, jobId: string, payloads: PayloadStore): Promise<Result["output"]> {
  if (value === undefined) return undefined;
  if (value instanceof Uint8Array) return { result_ref: await payloads.put(jobId, value) };
  let json: string | undefined;
  try {
    json = JSON.stringify(value);
  } catch (err) {
    throw new InvalidOutputError(
      `the handler returned a value that is not JSON-serializable: ${(err as Error).message}`,
      { cause: err },
    );
  }
  if (json === undefined)
    throw new InvalidOutputError(
      `the handler returned a ${typeof value}, which is not a JSON value; return undefined, bytes or JSON`,
    );
  const bytes = utf8.encode(json);
  if (bytes.byteLength <= INLINE_OUTPUT_MAX_BYTES) return { data: JSON.parse(json) as unknown };
  return { result_ref: await payloads.put(jobId, bytes) };
}
