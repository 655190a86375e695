import { reasonCodeProblem } from "@tessera/contract";

/**
 * Throw this from a handler when retrying cannot help (bad input, a permanent refusal): the job gets a
 * failed Result with `reasonCode` (and the message, sanitized, as `reason_detail`) and is not redelivered.
 * Any other error is retried with backoff until the component's max deliveries.
 *
 * ```ts
 * throw new TerminalError("unsupported_language", `no model for ${lang}`);
 * ```
 */
export class TerminalError extends Error {
  override readonly name = "TerminalError";
  constructor(
    /** 1-64 characters of `[a-z0-9_:.-]`; checked here so a bad code fails where it is written. */
    readonly reasonCode: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    const problem = reasonCodeProblem(reasonCode);
    if (problem !== undefined)
      throw new TypeError(`TerminalError: reasonCode ${JSON.stringify(reasonCode)}: ${problem}`);
  }
}
