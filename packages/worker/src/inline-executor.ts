import type { PayloadStore } from "@tessera/bus";
import type { Handler } from "./define-component.js";
import { createHandlerContext, storeIo } from "./handler-context.js";
import { invokeHandler, type HandlerExecutor, type HandlerRun, type RunRequest } from "./handler-outcome.js";
import { terminalCodeOf } from "./terminal-codes.js";

/**
 * `isolation: "none"`: the handler runs in the host's own thread. An interrupted handler only has its signal
 * aborted; one that ignores it keeps running (and a busy loop blocks the host) — why this is the unsafe choice.
 */
export function inlineExecutor(handle: Handler, payloads: PayloadStore, maxOutputBytes: number): HandlerExecutor {
  return {
    start(request: RunRequest): HandlerRun {
      // The signal is made only if the handler reads it; an interrupt before that hands it out already aborted.
      let controller: AbortController | undefined;
      let abortReason: DOMException | undefined;
      const signal = (): AbortSignal => {
        if (controller === undefined) {
          controller = new AbortController();
          if (abortReason !== undefined) controller.abort(abortReason);
        }
        return controller.signal;
      };
      const ctx = createHandlerContext({
        job: request.job,
        attempt: request.attempt,
        signal,
        io: storeIo(request.job, payloads),
        working: request.working,
        log: request.log,
      });
      return {
        started: Promise.resolve(),
        outcome: invokeHandler(handle, ctx, maxOutputBytes, terminalCodeOf),
        interrupt(reason) {
          abortReason = reason;
          controller?.abort(reason);
        },
      };
    },
    close: () => Promise.resolve(),
  };
}
