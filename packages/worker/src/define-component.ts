import { componentNameProblem } from "@tessera/contract";
import { DEFAULT_RETRY, type RetryPolicy } from "./backoff.js";
import type { HandlerContext } from "./handler-context.js";

/**
 * What a handler may return:
 * - `undefined`: the job has no output;
 * - a `Uint8Array` (or Buffer): stored in the payload store, the Result carries `output.result_ref`;
 * - any other JSON value: inline as `output.data` up to INLINE_OUTPUT_MAX_BYTES of JSON, by reference beyond.
 */
export type Handler<TOutput = unknown> = (ctx: HandlerContext) => TOutput | Promise<TOutput>;

export interface ComponentOptions<TOutput = unknown> {
  /** A DNS-1123 label; the component's subjects, stream and consumer are named after it. */
  name: string;
  /** Reported in heartbeats. Default "0.0.0". */
  version?: string;
  /** Jobs one worker runs at once. Default 1. */
  concurrency?: number;
  handle: Handler<TOutput>;
  /** Backoff for jobs whose handler threw a non-terminal error. Defaults: 1 s base, 60 s cap. */
  retry?: Partial<RetryPolicy>;
}

/** A validated, frozen component: hand it to `runWorker` or `runWorkerProcess`. */
export interface ComponentDefinition<TOutput = unknown> {
  readonly name: string;
  readonly version: string;
  readonly concurrency: number;
  readonly retry: Readonly<RetryPolicy>;
  readonly handle: Handler<TOutput>;
}

export function defineComponent<TOutput = unknown>(options: ComponentOptions<TOutput>): ComponentDefinition<TOutput> {
  const where = `defineComponent(${JSON.stringify(options.name)})`;
  const problem = componentNameProblem(options.name);
  if (problem !== undefined) throw new TypeError(`${where}: name: ${problem}`);
  if (typeof options.handle !== "function")
    throw new TypeError(`${where}: handle: expected a function, got ${typeof options.handle}`);
  const version = options.version ?? "0.0.0";
  if (typeof version !== "string" || version.length === 0 || version.length > 128) {
    throw new TypeError(`${where}: version: expected a string of 1-128 characters, got ${JSON.stringify(version)}`);
  }
  const concurrency = options.concurrency ?? 1;
  if (!Number.isInteger(concurrency) || concurrency < 1)
    throw new TypeError(`${where}: concurrency: expected an integer >= 1, got ${String(concurrency)}`);
  const retry: RetryPolicy = { ...DEFAULT_RETRY, ...options.retry };
  if (!(
    Number.isFinite(retry.baseDelayMs) &&
    Number.isFinite(retry.maxDelayMs) &&
    retry.baseDelayMs >= 0 &&
    retry.maxDelayMs >= retry.baseDelayMs
  )) {
    throw new TypeError(
      `${where}: retry: expected finite 0 <= baseDelayMs <= maxDelayMs, got ${JSON.stringify(retry)}`,
    );
  }
  return Object.freeze({
    name: options.name,
    version,
    concurrency,
    retry: Object.freeze(retry),
    handle: options.handle,
  });
}
