import { Readable } from "node:stream";
import type { CliIo, CliStream } from "../../src/cli-io.js";
import { runCli } from "../../src/run-cli.js";

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
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
 * Runs `tessera <args>` in-process. The environment is empty unless given (no TESSERA_URL from the
 * machine running the tests); `answer` makes stdin a terminal that types it.
 */
export async function runTessera(args: string[], opts: { env?: Record<string, string>; answer?: string; tty?: boolean } = {}): Promise<RunResult> {
  const stdout = buffer(opts.tty ?? false);
  const stderr = buffer(opts.tty ?? false);
  const io: CliIo = { stdout, stderr, env: opts.env ?? {} };
  if (opts.answer !== undefined) io.stdin = Object.assign(Readable.from([`${opts.answer}\n`]), { isTTY: true });
  const code = await runCli(args, io);
  return { code, stdout: stdout.text, stderr: stderr.text };
}
