import type { Command } from "commander";

/** Where a command writes. `process.stdout` fits; tests pass a buffer with `isTTY` set as they need. */
export interface CliStream {
  write(chunk: string): unknown;
  isTTY?: boolean;
}

/** Everything a command touches outside itself, so tests run commands in-process and read their output. */
export interface CliIo {
  stdout: CliStream;
  stderr: CliStream;
  env: Readonly<Record<string, string | undefined>>;
  /** Read only for confirmations; absent or not a TTY means nobody can answer. */
  stdin?: NodeJS.ReadableStream & { isTTY?: boolean };
}

/** How each command group adds itself to the program (`registerJobsCommands(program, io)`). */
export type RegisterCommands = (program: Command, io: CliIo) => void;
