import type { PayloadStore } from "@tessera/bus";
import type { Result } from "@tessera/contract";
import { outputBytes } from "./results/job-output.js";
import type { ChainContext, Coordinator, JobRecord } from "./types.js";

/**
 * The idempotency key of the n-th job a completion hook submits: derived from the parent job, so a hook
 * replayed after a crash or a failed attempt finds the jobs its first run created instead of submitting
 * them again.
 */
export function chainIdempotencyKey(parentJobId: string, component: string, n: number): string {
  return `${CHAIN_PREFIX}${parentJobId}:${component}:${n}`;
}

/**
 * The parent job of a job submitted with a chain key, or undefined for any other key. Job ids may hold ':',
 * so the parent is what lies between the prefix and the child's own component.
 */
export function chainParentOf(idempotencyKey: string, component: string): string | undefined {
  if (!idempotencyKey.startsWith(CHAIN_PREFIX)) return undefined;
  const end = idempotencyKey.lastIndexOf(`:${component}:`);
  return end > CHAIN_PREFIX.length ? idempotencyKey.slice(CHAIN_PREFIX.length, end) : undefined;
}

const CHAIN_PREFIX = "chain:";

/**
 * What a completion hook gets. It runs before the Result is recorded, so a crash replays it: its submits
 * carry idempotency keys derived from the parent job, and a replay finds the jobs it already created.
 */
export function chainContext(
  job: JobRecord,
  result: Result,
  payloads: PayloadStore,
  submit: Coordinator["submit"],
): ChainContext {
  let n = 0;
  return {
    job,
    result,
    outputBytes: async () => (await outputBytes(payloads, job.jobId, result.output)).bytes,
    submit: (component, input, opts = {}) => {
      n += 1;
      return submit(component, input, {
        ...opts,
        idempotencyKey: opts.idempotencyKey ?? chainIdempotencyKey(job.jobId, component, n),
      });
    },
  };
}
