import { Readable } from "node:stream";
import type { CliIo, CliStream } from "../../src/cli-io.js";
import { runCli } from "../../src/run-cli.js";

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  env?: Record<string, string>;
  answer?: string;
  tty?: boolean;
}

/** A `tessera` invocation still running: its output so far, and its result once it returns. */
export interface RunningTessera {
  stdout(): string;
  stderr(): string;
  result: Promise<RunResult>;
}

function buffer(isTTY: boolean): CliStream & { text: string } {
  const stream = {
    text: "",
    isTTY,
    write(chunk: string) {
      stream.text += chunk;
      return true;
    },
  };
  return stream;
}

/**
 * Starts `tessera <args>` in-process and returns at once, so a test can read the output while the command
 * runs (`jobs watch`). The environment is empty unless given (no TESSERA_URL from the machine running the
 * tests); `answer` makes stdin a terminal that types it.
 */
export function startTessera(args: string[], opts: RunOptions = {}): RunningTessera {
  const stdout = buffer(opts.tty ?? false);
  const stderr = buffer(opts.tty ?? false);
  const io: CliIo = { stdout, stderr, env: opts.env ?? {} };
  if (opts.answer !== undefined) io.stdin = Object.assign(Readable.from([`${opts.answer}\n`]), { isTTY: true });
  return {
    stdout: () => stdout.text,
    stderr: () => stderr.text,
    result: runCli(args, io).then((code) => ({ code, stdout: stdout.text, stderr: stderr.text })),
  };
}

/** Runs `tessera <args>` in-process to the end (see startTessera). */
export function runTessera(args: string[], opts: RunOptions = {}): Promise<RunResult> {
  return startTessera(args, opts).result;
}
