import { ENVIRONMENT_VARIABLE, GuardRailError } from "@tessera/contract";
import { CommanderError } from "commander";
import { adminCliError } from "./admin-client.js";
import { CliError, ExitStatus } from "./cli-error.js";
import type { CliIo } from "./cli-io.js";
import { ExitCode } from "./exit-codes.js";
import { buildProgram } from "./program.js";

/**
 * Runs one `tessera` invocation (`args` without node and the script) and returns its exit code; every
 * failure is reported on `io.stderr` here, so commands only throw.
 */
export async function runCli(args: readonly string[], io: CliIo): Promise<ExitCode> {
  try {
    await buildProgram(io).parseAsync([...args], { from: "user" });
    return ExitCode.Ok;
  } catch (err) {
    return report(err, io);
  }
}

function report(err: unknown, io: CliIo): ExitCode {
  // Commander has already printed its message (or the help); --help and --version are successes.
  if (err instanceof CommanderError) return err.exitCode === 0 ? ExitCode.Ok : ExitCode.Usage;
  if (err instanceof ExitStatus) return err.exitCode;
  if (err instanceof GuardRailError) {
    io.stderr.write(`error: refusing to ${err.action} in ${err.environment} (${ENVIRONMENT_VARIABLE}):\n`);
    for (const f of err.findings) io.stderr.write(`  [${f.rule}] ${f.message}\n`);
    return ExitCode.Usage;
  }
  const cliError = err instanceof CliError ? err : adminCliError(err);
  if (cliError !== undefined) {
    io.stderr.write(`error: ${cliError.message}\n`);
    for (const line of cliError.details) io.stderr.write(`  ${line}\n`);
    return cliError.exitCode;
  }
  // A bug in the CLI, not something the user did: show where, so it can be reported.
  io.stderr.write(`error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  return ExitCode.Failed;
}
