import type { ContentRef, Job } from "@tessera/contract";
import type { HandlerOutput } from "../output.js";
import { TerminalError } from "../terminal-error.js";

/**
 * The messages between the host and a handler thread. A thread runs one job at a time; every message of a
 * job carries its run number, so what a handler left running after its job ended is told apart.
 */

/** The binding that tells the host which run a thread's log line belongs to; removed before the host logs it. */
export const RUN_BINDING = "tesseraRun";

/** What a handler thread is started with (its workerData). */
export interface ThreadData {
  /** The bootstrap imports this module: the thread's side (handler-thread). */
  entry: string;
  /** tsx's ESM API, registered first when TypeScript must be loaded; undefined otherwise. */
  tsx: string | undefined;
  /** The module that defines the component, and the component's name. */
  module: string;
  component: string;
  /** The host logger's level: the thread drops what the host would. */
  logLevel: string;
}

/** An error as it crosses the boundary: a TerminalError keeps its reason code. */
export interface WireError {
  name: string;
  message: string;
  stack?: string;
  reasonCode?: string;
}

export type WireOutcome =
  | { kind: "returned"; output: HandlerOutput }
  | { kind: "terminal"; code: string; detail: string }
  | { kind: "error"; error: WireError };

export type HostMessage =
  | { t: "run"; run: number; job: Job; attempt: number; maxOutputBytes: number }
  | { t: "input"; run: number; bytes: Uint8Array }
  | { t: "input"; run: number; error: WireError }
  | { t: "put"; run: number; id: number; ref: ContentRef }
  | { t: "put"; run: number; id: number; error: WireError }
  | { t: "abort"; run: number; name: string; message: string };

export type ThreadMessage =
  | { t: "ready" }
  | { t: "failed"; message: string }
  | { t: "input"; run: number }
  | { t: "put"; run: number; id: number; bytes: Uint8Array }
  | { t: "working"; run: number }
  /** A pino line; the run it belongs to is in its RUN_BINDING field. */
  | { t: "log"; line: string }
  | { t: "done"; run: number; outcome: WireOutcome };

/** What a thread says about the job it runs (the rest is about starting). */
export type JobMessage = Exclude<ThreadMessage, { t: "ready" | "failed" }>;

export function toWireError(err: unknown, reasonCode?: string): WireError {
  const e = err instanceof Error ? err : new Error(String(err));
  return {
    name: e.name,
    message: e.message,
    ...(e.stack !== undefined ? { stack: e.stack } : {}),
    ...(reasonCode !== undefined ? { reasonCode } : {}),
  };
}

export function fromWireError(wire: WireError): Error {
  let err: Error;
  if (wire.reasonCode !== undefined) err = new TerminalError(wire.reasonCode, wire.message);
  else {
    err = new Error(wire.message);
    err.name = wire.name;
  }
  if (wire.stack !== undefined) err.stack = wire.stack;
  return err;
}
