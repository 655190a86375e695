/**
 * Components and the worker runtime: define a handler once, run it embedded, as a process or in Kubernetes.
 *
 * ```ts
 * import { defineComponent, runWorker, runWorkerProcess, TerminalError } from "@tessera/worker";
 *
 * export const extract = defineComponent({
 *   name: "extract",
 *   concurrency: 4,
 *   retry: { baseDelayMs: 1_000, maxDelayMs: 60_000 },
 *   async handle(ctx) {
 *     const text = await ctx.input.text();            // inline or by reference, max_bytes enforced
 *     if (text.length === 0) throw new TerminalError("empty_input", "nothing to extract"); // failed, not retried
 *     const res = await fetch(url, { signal: ctx.signal }); // aborted at the wall clock limit
 *     return { words: text.split(/\s+/).length };     // completed, output.data
 *   },
 * });
 *
 * // embedded: next to the coordinator, on the in-process bus
 * const worker = await runWorker(extract, { bus, http: { host: "127.0.0.1", port: 0 } });
 * await worker.stop(); // drain
 *
 * // or, as the last line of a component's own file (process mode, Kubernetes): NATS_URL from the environment
 * await runWorkerProcess(extract);
 * ```
 *
 * The handler runs in a handler thread (isolation "thread", the default), which imports this module again and
 * runs the component of that name; runWorker and runWorkerProcess do nothing there. The worker stops the thread
 * at the job's wall clock or deadline, at its heap limit and past the output limit (docs/decisions/0022).
 */
export {
  defineComponent,
  Isolation,
  type ComponentDefinition,
  type ComponentOptions,
  type Handler,
} from "./define-component.js";
export type { HandlerContext, HandlerInput } from "./handler-context.js";
export { TerminalError } from "./terminal-error.js";
export { retryDelayMs, DEFAULT_RETRY, type RetryPolicy } from "./backoff.js";
export { runWorker, type RunWorkerOptions, type WorkerHandle } from "./run-worker.js";
export { runWorkerProcess } from "./worker-process.js";
export { WORKER_METRICS, WORKER_METRIC_NAMES } from "./metrics.js";
