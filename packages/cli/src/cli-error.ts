import { ExitCode } from "./exit-codes.js";

/**
 * A failure the user can act on: printed as `error: <message>`, then each of `details` indented on its
 * own line, and the process exits with `exitCode`.
 */
export class CliError extends Error {
  override readonly name: string = "CliError";
  constructor(
    message: string,
    readonly exitCode: ExitCode,
    readonly details: readonly string[] = [],
  ) {
    super(message);
  }
}

/** A bad flag or argument found after commander parsed it (combinations, values only checkable later). */
export function usageError(message: string): CliError {
  return new CliError(message, ExitCode.Usage);
}

/**
 * The command already printed its outcome (a failed job, validation problems); only the exit code is
 * left to set. Thrown rather than returned so it unwinds through commander's action dispatch.
 */
export class ExitStatus extends Error {
  override readonly name = "ExitStatus";
  constructor(readonly exitCode: ExitCode) {
    super(`exit ${exitCode}`);
  }
}
