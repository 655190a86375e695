import { isAbsolute } from "node:path";
import { pathToFileURL } from "node:url";
import { componentNameProblem } from "@tessera/contract";
import { DEFAULT_RETRY, type RetryPolicy } from "./backoff.js";
import type { HandlerContext } from "./handler-context.js";
import { recordDefinition } from "./isolation/thread-marker.js";

/**
 * What a handler may return:
 * - `undefined`: the job has no output;
 * - a `Uint8Array` (or Buffer): stored in the payload store, the Result carries `output.result_ref`;
 * - any other JSON value: inline as `output.data` up to INLINE_OUTPUT_MAX_BYTES of JSON, by reference beyond.
 */
export type Handler<TOutput = unknown> = (ctx: HandlerContext) => TOutput | Promise<TOutput>;

/** Where a component's handler runs (docs/decisions/0022-handler-isolation.md). */
export const Isolation = {
  /** In a worker thread the runtime stops at the job's time, heap and output limits. The default. */
  Thread: "thread",
  /**
   * In the host's own thread. Unsafe: a busy loop blocks the host (its other jobs, its HTTP server) past any
   * time limit, and a runaway allocation takes the whole process down. For handlers that need state shared
   * with the host, or are closures that cannot be imported again (tests).
   */
  None: "none",
} as const;
export type Isolation = (typeof Isolation)[keyof typeof Isolation];

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
  /** Default "thread". "none" is unsafe: see Isolation.None. */
  isolation?: Isolation;
  /**
   * The module a handler thread imports to find this component (by name, among those it defines at its top
   * level). Default: the module that called defineComponent; pass `import.meta.url` when a helper in another
   * module makes the call.
   */
  module?: string | URL;
}

/** A validated, frozen component: hand it to `runWorker` or `runWorkerProcess`. */
export interface ComponentDefinition<TOutput = unknown> {
  readonly name: string;
  readonly version: string;
  readonly concurrency: number;
  readonly retry: Readonly<RetryPolicy>;
  readonly handle: Handler<TOutput>;
  readonly isolation: Isolation;
  /** The defining module's file: URL (undefined only with isolation "none", which imports nothing). */
  readonly module: string | undefined;
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
  const isolation = options.isolation ?? Isolation.Thread;
  if (isolation !== Isolation.Thread && isolation !== Isolation.None)
    throw new TypeError(`${where}: isolation: expected "thread" or "none", got ${JSON.stringify(isolation)}`);
  const module = options.module !== undefined ? moduleUrl(options.module, where) : callerModule();
  if (isolation === Isolation.Thread && module === undefined)
    throw new TypeError(
      `${where}: cannot tell which module defines the component, which a handler thread imports: pass module: import.meta.url (or isolation: "none", unsafe)`,
    );
  const definition: ComponentDefinition<TOutput> = Object.freeze({
    name: options.name,
    version,
    concurrency,
    retry: Object.freeze(retry),
    handle: options.handle,
    isolation,
    module,
  });
  recordDefinition(definition as ComponentDefinition);
  return definition;
}

function moduleUrl(value: string | URL, where: string): string {
  const text = String(value);
  if (isAbsolute(text)) return pathToFileURL(text).href;
  let url: URL | undefined;
  try {
    url = new URL(text);
  } catch {
    url = undefined;
  }
  if (url?.protocol !== "file:")
    throw new TypeError(
      `${where}: module: expected a file: URL (import.meta.url) or an absolute path, got ${JSON.stringify(text)}`,
    );
  return url.href;
}

/** The file of defineComponent's caller, from the call stack's structured frames (not its formatted text). */
function callerModule(): string | undefined {
  const { prepareStackTrace, stackTraceLimit } = Error;
  try {
    Error.stackTraceLimit = 1;
    Error.prepareStackTrace = (_err, frames) => frames;
    const holder: { stack?: NodeJS.CallSite[] } = {};
    Error.captureStackTrace(holder, defineComponent);
    // Read inside the try: the frames are prepared when `stack` is first read.
    const file = holder.stack?.[0]?.getFileName();
    if (file === undefined || file === null) return undefined;
    if (file.startsWith("file:")) return file;
    return isAbsolute(file) ? pathToFileURL(file).href : undefined;
  } catch {
    return undefined;
  } finally {
    Error.prepareStackTrace = prepareStackTrace;
    Error.stackTraceLimit = stackTraceLimit;
  }
}
