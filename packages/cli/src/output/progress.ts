import type { CliStream } from "../cli-io.js";

/** A running status line: rewritten in place on a terminal, printed now and then in logs. */
export interface Progress {
  update(text: string): void;
  /** Ends the status line; `text` is printed as the last line. */
  done(text: string): void;
}

export function createProgress(stream: CliStream, opts: { intervalMs?: number; now?: () => number } = {}): Progress {
  const now = opts.now ?? Date.now;
  if (stream.isTTY === true) {
    return {
      update: (text) => void stream.write(`\r\u001b[2K${text}`),
      done: (text) => void stream.write(`\r\u001b[2K${text}\n`),
    };
  }
  // A log file or CI console gets a line at most every intervalMs, so a long run shows life without flooding.
  const interval = opts.intervalMs ?? 2_000;
  let last = now();
  return {
    update(text) {
      if (now() - last < interval) return;
      last = now();
      stream.write(`${text}\n`);
    },
    done: (text) => void stream.write(`${text}\n`),
  };
}
