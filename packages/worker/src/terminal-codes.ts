import { PayloadMissingError, PayloadNotOwnedError, PayloadTooLargeError } from "@tessera/bus";
import { reasonCodeOf } from "./handler-outcome.js";

/**
 * The reason code of an error no retry fixes, as the host sees errors: a TerminalError, or the payload
 * store refusing the job's input (too large, not the job's, gone). Kept apart from handler-outcome.ts so
 * that a handler thread does not load the bus.
 */
export function terminalCodeOf(error: unknown): string | undefined {
  if (
    error instanceof PayloadTooLargeError ||
    error instanceof PayloadNotOwnedError ||
    error instanceof PayloadMissingError
  )
    return error.code;
  return reasonCodeOf(error);
}
