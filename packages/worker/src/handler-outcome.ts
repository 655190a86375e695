import type { Job } from "@tessera/contract";
import type { Logger } from "pino";
import type { Handler } from "./define-component.js";
import type { HandlerContext } from "./handler-context.js";
import { serializeOutput, type HandlerOutput } from "./output.js";
import { TerminalError } from "./terminal-error.js";

/** How a handler run ended. */
export type HandlerOutcome =
  | { kind: "returned"; output: HandlerOutput }
  | { kind: "terminal"; code: string; detail: string }
  | { kind: "error"; error: unknown }
  | { kind: "timeout"; detail: string }
  | { kind: "shutdown" };

/** The outcomes the host decides itself, from outside the handler. */
export type Interruption = Extract<HandlerOutcome, { kind: "timeout" | "shutdown" }>;
/** The outcomes the handler's own end decides. */
export type HandlerEnd = Exclude<HandlerOutcome, Interruption>;

/** One job for an executor: the job and the host's side of its context. */
export interface RunRequest {
  job: Job;
  attempt: number;
  /** Tells the bus the job is alive (ctx.working()). */
  working: () => void;
  /** The job's child logger, made on first use. */
  log: () => Logger;
}

/** A handler started by an executor. */
export interface HandlerRun {
  /** Resolves when the handler starts (a handler thread may have to start first); never rejects. */
  readonly started: Promise<void>;
  /** How the handler ended; never rejects. Not awaited once the run was interrupted. */
  readonly outcome: Promise<HandlerOutcome>;
  /** The host ended the run (its time is up, or the worker shuts down): abort the handler's signal and stop it. */
  interrupt(reason: DOMException): void;
}

/** Where handlers run: in the host's own thread, or in handler threads the host can stop. */
export interface HandlerExecutor {
  start(request: RunRequest): HandlerRun;
  /** Stops whatever the executor keeps running (threads); running handlers were interrupted before. */
  close(): Promise<void>;
}

/**
 * Runs `handle` in the calling thread and says how it ended, its output serialized within `maxOutputBytes`.
 * `terminalCodeOf` tells the errors no retry fixes: a handler thread has only TerminalErrors (the host's
 * refusals reach it as those), the host also the payload store's refusals.
 */
export async function invokeHandler(
  handle: Handler,
  ctx: HandlerContext,
  maxOutputBytes: number,
  terminalCodeOf: (error: unknown) => string | undefined = reasonCodeOf,
): Promise<HandlerEnd> {
  try {
    return { kind: "returned", output: serializeOutput(await handle(ctx), maxOutputBytes) };
  } catch (error) {
    const code = terminalCodeOf(error);
    if (code !== undefined) return { kind: "terminal", code, detail: (error as Error).message };
    return { kind: "error", error };
  }
}

/** A TerminalError's reason code, else undefined. */
export function reasonCodeOf(error: unknown): string | undefined {
  return error instanceof TerminalError ? error.reasonCode : undefined;
}
