import { componentNameProblem, type ContentRef, type Job } from "@tessera/contract";
import type { Logger } from "pino";
import { DEFAULT_RETRY, type RetryPolicy } from "./backoff.js";

/** What a handler gets for one job. */
export interface HandlerContext {
  readonly job: Job;
  readonly jobId: string;
  /** 1 for the first delivery. */
  readonly attempt: number;
  /** Fires at the job's wall clock limit or deadline, whichever comes first, and on shutdown past the grace period. */
  readonly signal: AbortSignal;
  readonly input: {
    /** The input's bytes; by reference with `limits.max_bytes` enforced while reading. */
    bytes(): Promise<Uint8Array>;
    text(): Promise<string>;
    json(): Promise<unknown>;
  };
  /** The shared config stamped into the job at submit time. */
  readonly config: Readonly<Record<string, unknown>>;
  readonly metadata: Readonly<Record<string, string>>;
  /** Tells the bus the job is alive. The runtime already does this while the handler runs. */
  working(): void;
  readonly payloads: { put(data: Uint8Array): Promise<ContentRef> };
  readonly log: Logger;
}

/**
 * What a handler may return: nothing; bytes (stored by reference, `output.result_ref`); or a JSON value
 * (inline as `output.data` up to 64 KiB, by reference beyond).
 */
export type HandlerOutput = void | undefined | Uint8Array | unknown;

export interface ComponentOptions {
  /** DNS-1123 label; the component's subjects, stream and consumer are named after it. */
  name: string;
  version?: string;
  /** Jobs one worker runs at once. */
  concurrency?: number;
  handle: (ctx: HandlerContext) => Promise<HandlerOutput> | HandlerOutput;
  retry?: Partial<RetryPolicy>;
}

export interface ComponentDefinition {
  readonly name: string;
  readonly version: string;
  readonly concurrency: number;
  readonly retry: RetryPolicy;
  readonly handle: ComponentOptions["handle"];
}

export function defineComponent(options: ComponentOptions): ComponentDefinition {
  const problem = componentNameProblem(options.name);
  if (problem !== undefined) throw new TypeError(`defineComponent name ${JSON.stringify(options.name)}: ${problem}`);
  const concurrency = options.concurrency ?? 1;
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new TypeError(`defineComponent ${options.name}: concurrency: expected an integer >= 1, got ${String(concurrency)}`);
  if (typeof options.handle !== "function") throw new TypeError(`defineComponent ${options.name}: handle: expected a function`);
  const retry = { ...DEFAULT_RETRY, ...options.retry };
  if (!(retry.baseDelayMs >= 0 && retry.maxDelayMs >= retry.baseDelayMs)) {
    throw new TypeError(`defineComponent ${options.name}: retry: expected 0 <= baseDelayMs <= maxDelayMs, got ${JSON.stringify(retry)}`);
  }
  return Object.freeze({ name: options.name, version: options.version ?? "0.0.0", concurrency, retry: Object.freeze(retry), handle: options.handle });
}
