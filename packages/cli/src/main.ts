/** The `tessera` process entry (bin/tessera.js loads this). */
import { runCli } from "./run-cli.js";

// `tessera jobs list | head` closes the pipe early; that is the reader's choice, not an error.
process.stdout.on("error", (err: NodeJS.ErrnoException) => {
  if (err.code === "EPIPE") process.exit(0);
  throw err;
});

process.exitCode = await runCli(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
  // A getter: process.stdin is only created when a confirmation actually reads it.
  get stdin() {
    return process.stdin;
  },
});
