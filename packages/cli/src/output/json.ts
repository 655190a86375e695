import type { CliStream } from "../cli-io.js";

/** `--json` output: one pretty-printed document on stdout, nothing else there. */
export function writeJson(stream: CliStream, value: unknown): void {
  stream.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** Streaming `--json` output (watch): one compact document per line. */
export function writeJsonLine(stream: CliStream, value: unknown): void {
  stream.write(`${JSON.stringify(value)}\n`);
}
