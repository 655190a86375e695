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

/** How a context reaches the host's side: the payload store in the host's thread, messages from a handler thread. */
export interface ContextIo {
  /** The input's bytes (called at most once per job: the context caches them). */
  readInput(): Promise<Uint8Array>;
  putPayload(data: Uint8Array): Promise<ContentRef>;
}

/**
 * Builds the context a handler sees for one job. Reading the input is lazy: a handler that never reads it
 * pays nothing. Classes rather than frozen object literals with accessors, which V8 builds markedly slower
 * (this runs once per job).
 */
export function createHandlerContext(args: {
  job: Job;
  attempt: number;
  /** Read only when the handler reads ctx.signal: creating an AbortSignal per job is not free. */
  signal: () => AbortSignal;
  io: ContextIo;
  working: () => void;
  /** Called when the handler first reads ctx.log: a child logger per job is not free either. */
  log: () => Logger;
}): HandlerContext {
  return new JobContext(args.job, args.attempt, args.signal, args.io, args.working, args.log);
}

/** The ContextIo of a handler running in the host's thread: the payload store itself. */
export function storeIo(job: Job, store: PayloadStore): ContextIo {
  return {
    readInput: () => readInput(job, store),
    putPayload: (data) => store.put(job.job_id, data),
  };
}

class JobContext implements HandlerContext {
  readonly jobId: string;
  readonly input: HandlerInput;
  readonly config: Readonly<Record<string, unknown>>;
  readonly metadata: Readonly<Record<string, string>>;
  readonly payloads: { put(data: Uint8Array): Promise<ContentRef> };

  constructor(
    readonly job: Job,
    readonly attempt: number,
    private readonly readSignal: () => AbortSignal,
    io: ContextIo,
    readonly working: () => void,
    private readonly readLog: () => Logger,
  ) {
    this.jobId = job.job_id;
    this.input = new JobInput(job, io);
    this.config = job.shared_config ?? {};
    this.metadata = job.metadata ?? {};
    this.payloads = { put: io.putPayload };
  }

  get signal(): AbortSignal {
    return this.readSignal();
  }

  get log(): Logger {
    return this.readLog();
  }
}

/** Methods bound in the constructor's fields: a handler may pass `ctx.input.json` around on its own. */
class JobInput implements HandlerInput {
  private cached: Promise<Uint8Array> | undefined;

  constructor(
    private readonly job: Job,
    private readonly io: ContextIo,
  ) {}

  readonly bytes = (): Promise<Uint8Array> => (this.cached ??= this.io.readInput());

  readonly text = async (): Promise<string> => {
    const inline = this.job.input.inline;
    return typeof inline === "string" ? inline : utf8Decoder.decode(await this.bytes());
  };

  readonly json = async <T = unknown>(): Promise<T> => {
    const { input, content_type } = this.job;
    if (input.inline !== undefined) return input.inline as T;
    const text = utf8Decoder.decode(await this.bytes());
    try {
      return JSON.parse(text) as T;
    } catch (err) {
      throw new TerminalError(
        ReasonCode.InvalidInput,
        `input is not JSON (content_type ${content_type}): ${(err as Error).message}`,
        { cause: err },
      );
    }
  };
}

/**
 * The input's bytes: inline input encoded here, referenced input read from the store with `max_bytes`
 * enforced while reading.
 */
export function readInput(job: Job, payloads: PayloadStore): Promise<Uint8Array> {
  const { input } = job;
  if (input.content_ref !== undefined)
    return payloads.get(input.content_ref, { jobId: job.job_id, maxBytes: job.limits.max_bytes });
  return inlineInput(job);
}

/** The input's bytes when they are in the job itself (what a handler thread reads without asking the host). */
export async function inlineInput(job: Job): Promise<Uint8Array> {
  const { input } = job;
  if (input.source_locator !== undefined) {
    // A worker never fetches: the coordinator fetches a fetch-controlled component's source before dispatch.
    throw new TerminalError(
      ReasonCode.InputModeUnsupported,
      "source_locator input reached a worker: workers never fetch; the coordinator fetches the source of a fetch-controlled component's job and dispatches it by content_ref (decision 0026), so this job was published by something else",
    );
  }
  return utf8.encode(typeof input.inline === "string" ? input.inline : JSON.stringify(input.inline));
}
