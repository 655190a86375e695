import { reasonCodeProblem } from "@tessera/contract";

/**
 * Throw this from a handler when retrying cannot help (bad input, a permanent refusal): the job gets a
 * failed Result with `reasonCode` and is not redelivered. Any other error is retried with backoff.
 */
export class TerminalError extends Error {
  override readonly name = "TerminalError";
  constructor(
    readonly reasonCode: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    const problem = reasonCodeProblem(reasonCode);
    if (problem !== undefined) throw new TypeError(`TerminalError reasonCode ${JSON.stringify(reasonCode)}: ${problem}`);
  }
}
