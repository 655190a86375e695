import { isMainThread, workerData } from "node:worker_threads";
import type { ComponentDefinition } from "../define-component.js";

/** Set in a handler thread's workerData; read through globals so that a second copy of this package agrees. */
export const HANDLER_THREAD_MARK = "tessera.handlerThread";
const DEFINED = Symbol.for("tessera.worker.definedInHandlerThread");

/**
 * Whether this code runs in a handler thread. There the component's module is imported only for its handler:
 * runWorker and runWorkerProcess called by that module return an inert handle instead of starting a worker.
 */
export function inHandlerThread(): boolean {
  return !isMainThread && (workerData as Record<string, unknown> | null)?.[HANDLER_THREAD_MARK] === true;
}

/** In a handler thread, remembers each component defined while its module loads: the thread runs one of them. */
export function recordDefinition(definition: ComponentDefinition): void {
  if (!inHandlerThread()) return;
  const store = globalThis as { [DEFINED]?: ComponentDefinition[] };
  (store[DEFINED] ??= []).push(definition);
}

/** The components defined in this handler thread so far, oldest first. */
export function definedInThisThread(): readonly ComponentDefinition[] {
  return (globalThis as { [DEFINED]?: ComponentDefinition[] })[DEFINED] ?? [];
}
