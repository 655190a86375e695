import { createInterface } from "node:readline";
import type { CliIo } from "../cli-io.js";

/** Whether someone at a terminal can answer a question. */
export function canAsk(io: CliIo): boolean {
  return io.stdin?.isTTY === true;
}

/** Asks a yes/no question on stderr and reads one line; anything but y/yes (or end of input) is no. */
export async function confirm(io: CliIo, question: string): Promise<boolean> {
  const input = io.stdin;
  if (input === undefined) return false;
  io.stderr.write(`${question} [y/N] `);
  const lines = createInterface({ input, terminal: false });
  try {
    const answer = await new Promise<string>((resolve) => {
      lines.once("line", resolve);
      lines.once("close", () => resolve(""));
    });
    return /^y(es)?$/i.test(answer.trim());
  } finally {
    lines.close();
  }
}
