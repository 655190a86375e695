import type { PayloadStore } from "@tessera/bus";
import { INLINE_OUTPUT_MAX_BYTES, ReasonCode, type Result } from "@tessera/contract";
import { TerminalError } from "./terminal-error.js";

/**
 * A handler's return value, serialized where the handler ran (its thread, when isolated): what crosses to
 * the host is bytes, so the host never holds the handler's objects.
 */
export type HandlerOutput =
  | { kind: "none" }
  /** The handler returned bytes: stored as they are. */
  | { kind: "bytes"; bytes: Uint8Array }
  /** Any other JSON value, as UTF-8 JSON. */
  | { kind: "json"; utf8: Uint8Array };

const utf8 = new TextEncoder();
const utf8Decoder = new TextDecoder();

/**
 * Turns a handler's return value into a HandlerOutput of at most `maxBytes`. Throws a TerminalError
 * (`invalid_output` for a value JSON cannot carry, `output_too_large` past the limit): a bug or an input
 * that no retry fixes.
 */
export function serializeOutput(value: unknown, maxBytes: number): HandlerOutput {
  if (value === undefined) return { kind: "none" };
  if (value instanceof Uint8Array) return checkSize({ kind: "bytes", bytes: value }, maxBytes);
  let json: string | undefined;
  try {
    json = JSON.stringify(value);
  } catch (err) {
    throw new TerminalError(
      ReasonCode.InvalidOutput,
      `the handler returned a value that is not JSON-serializable: ${(err as Error).message}`,
      { cause: err },
    );
  }
  if (json === undefined)
    throw new TerminalError(
      ReasonCode.InvalidOutput,
      `the handler returned a ${typeof value}, which is not a JSON value; return undefined, bytes or JSON`,
    );
  // Measured before encoding: an output over the limit is refused without a copy of it.
  const size = Buffer.byteLength(json);
  if (size > maxBytes) throw tooLarge(size, maxBytes);
  return { kind: "json", utf8: utf8.encode(json) };
}

/**
 * Stores a serialized output and returns the Result's `output`: nothing, inline `data` for JSON up to
 * INLINE_OUTPUT_MAX_BYTES, a reference beyond it and for bytes. The size is checked again here, in the host,
 * whatever the handler's side did. Payload store errors propagate (transient: the job is retried).
 */
export async function storeOutput(
  output: HandlerOutput,
  jobId: string,
  payloads: PayloadStore,
  maxBytes: number,
): Promise<Result["output"]> {
  if (output.kind === "none") return undefined;
  checkSize(output, maxBytes);
  if (output.kind === "bytes") return { result_ref: await payloads.put(jobId, output.bytes) };
  if (output.utf8.byteLength <= INLINE_OUTPUT_MAX_BYTES)
    return { data: JSON.parse(utf8Decoder.decode(output.utf8)) as unknown };
  return { result_ref: await payloads.put(jobId, output.utf8) };
}

function checkSize<T extends Exclude<HandlerOutput, { kind: "none" }>>(output: T, maxBytes: number): T {
  const size = output.kind === "bytes" ? output.bytes.byteLength : output.utf8.byteLength;
  if (size > maxBytes) throw tooLarge(size, maxBytes);
  return output;
}

function tooLarge(size: number, maxBytes: number): TerminalError {
  return new TerminalError(
    ReasonCode.OutputTooLarge,
    `the handler returned ${size} bytes of output, over the limit of ${maxBytes} bytes (the Component's handlerLimits.maxOutputBytes)`,
  );
}
