import type { Bus } from "@tessera/bus";
import { ReasonCode, type Job } from "@tessera/contract";
import type { Logger } from "pino";
import type { HandlerContext } from "./define-component.js";
import { TerminalError } from "./terminal-error.js";

const utf8 = new TextEncoder();
const utf8Decoder = new TextDecoder();

/** Builds the context a handler sees for one job. Reading the input is lazy: a handler that never reads pays nothing. */
export function createHandlerContext(args: {
  job: Job;
  attempt: number;
  signal: AbortSignal;
  bus: Bus;
  working: () => void;
  log: Logger;
}): HandlerContext {
  const { job, bus } = args;
  let cached: Promise<Uint8Array> | undefined;
  const bytes = (): Promise<Uint8Array> => (cached ??= readInput(job, bus));
  return {
    job,
    jobId: job.job_id,
    attempt: args.attempt,
    signal: args.signal,
    input: {
      bytes,
      text: async () => (job.input.inline !== undefined && typeof job.input.inline === "string" ? job.input.inline : utf8Decoder.decode(await bytes())),
      json: async () => {
        if ("inline" in job.input) return job.input.inline;
        const text = utf8Decoder.decode(await bytes());
        try {
          return JSON.parse(text) as unknown;
        } catch (err) {
          throw new TerminalError(ReasonCode.InvalidEnvelope, `input is not JSON (content_type ${job.content_type}): ${(err as Error).message}`);
        }
      },
    },
    config: job.shared_config ?? {},
    metadata: job.metadata ?? {},
    working: args.working,
    payloads: { put: (data) => bus.payloads.put(job.job_id, data) },
    log: args.log,
  };
}

async function readInput(job: Job, bus: Bus): Promise<Uint8Array> {
  const { input } = job;
  if (input.content_ref !== undefined) return bus.payloads.get(input.content_ref, { jobId: job.job_id, maxBytes: job.limits.max_bytes });
  if (input.source_locator !== undefined) {
    throw new TerminalError(
      ReasonCode.InputModeUnsupported,
      "source_locator input is not implemented yet: the fetch-through-egress-guard path is a later issue; submit the input inline or by content_ref",
    );
  }
  const inline = input.inline;
  return utf8.encode(typeof inline === "string" ? inline : JSON.stringify(inline));
}
