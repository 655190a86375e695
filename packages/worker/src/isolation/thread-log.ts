import type { Level, Logger } from "pino";
import { RUN_BINDING } from "./protocol.js";

const LEVELS = new Set<string>(["fatal", "error", "warn", "info", "debug", "trace"]);

/**
 * Logs a handler thread's pino line through a host logger: `pick` chooses it from the run the line came
 * from (the job's logger, with its bindings, while that job runs).
 */
export function forwardLog(line: string, pick: (run: unknown) => Logger): void {
  let record: Record<string, unknown>;
  try {
    record = JSON.parse(line) as Record<string, unknown>;
  } catch {
    pick(undefined).warn({ line: line.slice(0, 1_000) }, "a handler thread wrote a log line that is not JSON");
    return;
  }
  const { level, msg, [RUN_BINDING]: run, ...rest } = record;
  const target = pick(run);
  const label = typeof level === "number" ? target.levels.labels[level] : undefined;
  const method = (label !== undefined && LEVELS.has(label) ? label : "info") as Level;
  target[method](rest, typeof msg === "string" ? msg : undefined);
}
