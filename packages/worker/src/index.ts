/**
 * Components and the worker runtime.
 *
 * ```ts
 * import { defineComponent, runWorker, TerminalError } from "@tessera/worker";
 * const extract = defineComponent({
 *   name: "extract",
 *   concurrency: 4,
 *   async handle(ctx) {
 *     const text = await ctx.input.text();
 *     if (!text) throw new TerminalError("empty_input", "nothing to extract");
 *     return { text };
 *   },
 * });
 * const worker = await runWorker(extract, { bus });   // or runWorkerProcess(extract) in a worker process
 * ```
 */
export { defineComponent, type ComponentDefinition, type ComponentOptions, type HandlerContext, type HandlerOutput } from "./define-component.js";
export { TerminalError } from "./terminal-error.js";
export { retryDelayMs, DEFAULT_RETRY, type RetryPolicy } from "./backoff.js";
export { runWorker, type RunWorkerOptions, type WorkerHandle } from "./run-worker.js";
export { runWorkerProcess } from "./worker-process.js";
