import type { PayloadStore } from "@tessera/bus";
import { ReasonCode, type ContentRef, type Job } from "@tessera/contract";
import type { Logger } from "pino";
import { TerminalError } from "./terminal-error.js";

/** What a handler gets for one job. */
export interface HandlerContext {
  readonly job: Job;
  readonly jobId: string;
  /** The delivery count: 1 for the first delivery, 2 for the first retry, ... */
  readonly attempt: number;
  /**
   * Fires when the job's time is up (`limits.wall_clock` or `deadline`, whichever comes first) and when
   * the worker shuts down past its drain grace period. Pass it to fetch, child processes, streams.
   */
  readonly signal: AbortSignal;
  readonly input: HandlerInput;
  /** The shared config stamped into the job when it was submitted (`job.shared_config`), never the live one. */
  readonly config: Readonly<Record<string, unknown>>;
  readonly metadata: Readonly<Record<string, string>>;
  /** Tells the bus the job is alive. The runtime already does this on a timer while the handler runs. */
  working(): void;
  /** Stores bytes owned by this job (e.g. a large intermediate result) and returns their reference. */
  readonly payloads: { put(data: Uint8Array): Promise<ContentRef> };
  /** A pino child logger carrying the component, instance, job id and attempt. */
  readonly log: Logger;
}

export interface HandlerInput {
  /**
   * The input's bytes. Inline input: a string's UTF-8, any other value as JSON. By reference: read from
   * the payload store with `limits.max_bytes` enforced while reading (a larger payload fails the job with
   * reason `payload_too_large`).
   */
  bytes(): Promise<Uint8Array>;
  /** The input as UTF-8 text. */
  text(): Promise<string>;
  /**
   * The input as JSON: the inline value itself, or the referenced bytes parsed. Not validated: the type
   * parameter is an assertion, check the shape yourself if the producer is not trusted.
   */
  json<T = unknown>(): Promise<T>;
}

const utf8 = new TextEncoder();
const utf8Decoder = new TextDecoder();

/** Builds the context a handler sees for one job. Reading the input is lazy: a handler that never reads it pays nothing. */
export function createHandlerContext(args: {
  job: Job;
  attempt: number;
  /** Read only when the handler reads ctx.signal: creating an AbortSignal per job is not free. */
  signal: () => AbortSignal;
  payloads: PayloadStore;
  working: () => void;
  log: Logger;
}): HandlerContext {
  const { job, payloads } = args;
  let cached: Promise<Uint8Array> | undefined;
  const bytes = (): Promise<Uint8Array> => (cached ??= readInput(job, payloads));
  const inline = job.input.inline;
  const hasInline = inline !== undefined;
  return Object.freeze({
    job,
    jobId: job.job_id,
    attempt: args.attempt,
    get signal() {
      return args.signal();
    },
    input: Object.freeze({
      bytes,
      text: async () => (typeof inline === "string" ? inline : utf8Decoder.decode(await bytes())),
      json: async <T>() => {
        if (hasInline) return inline as T;
        const text = utf8Decoder.decode(await bytes());
        try {
          return JSON.parse(text) as T;
        } catch (err) {
          throw new TerminalError(ReasonCode.InvalidInput, `input is not JSON (content_type ${job.content_type}): ${(err as Error).message}`, { cause: err });
        }
      },
    }),
    config: job.shared_config ?? {},
    metadata: job.metadata ?? {},
    working: args.working,
    payloads: Object.freeze({ put: (data: Uint8Array) => payloads.put(job.job_id, data) }),
    log: args.log,
  });
}

async function readInput(job: Job, payloads: PayloadStore): Promise<Uint8Array> {
  const { input } = job;
  if (input.content_ref !== undefined) return payloads.get(input.content_ref, { jobId: job.job_id, maxBytes: job.limits.max_bytes });
  if (input.source_locator !== undefined) {
    // Deliberately loud: fetching must go through the shared egress guard, which does not exist yet.
    throw new TerminalError(
      ReasonCode.InputModeUnsupported,
      "source_locator input is not implemented yet: fetching through the egress guard is still to be built; submit the input inline or by content_ref",
    );
  }
  return utf8.encode(typeof input.inline === "string" ? input.inline : JSON.stringify(input.inline));
}
