import { jobIdOf, type Bus, type ExhaustedDelivery } from "@tessera/bus";
import { ReasonCode } from "@tessera/contract";
import type { Logger } from "pino";
import type { JobStorage } from "../store/job-storage.js";
import type { JobRecord } from "../types.js";

/**
 * What happens to a job that used up its deliveries: the coordinator, not the worker (a crashed worker
 * cannot dead-letter its own job). Order matters for crash safety: the bus first copies the job to the
 * DLQ and deletes it from the component's stream (idempotent), then the store records the dead letter
 * and fails the job. A crash in between redelivers the advisory and both steps run again harmlessly.
 */
export async function handleExhausted(
  event: ExhaustedDelivery,
  deps: { bus: Bus; store: JobStorage; log: Logger },
): Promise<JobRecord | undefined> {
  // The message is gone when a previous attempt deleted it and then failed to record: the store knows
  // which job sat at that stream position.
  const jobId =
    jobIdOf(event.data) ??
    dedupKeyJobId(event.dedupKey) ??
    (await deps.store.jobIdAtStreamSeq(event.component, event.streamSeq));
  const reasonDetail = `exhausted ${event.deliveries} deliveries without a Result`;
  await deps.bus.deadLetter(event, { reasonCode: ReasonCode.DeadLettered, reasonDetail });
  if (jobId === undefined) {
    deps.log.warn(
      { component: event.component, streamSeq: event.streamSeq },
      "dead-lettered a message with no job id; it is only in the bus's DLQ",
    );
    return undefined;
  }
  const failed = await deps.store.recordDeadLetter({
    jobId,
    component: event.component,
    streamSeq: event.streamSeq,
    deliveries: event.deliveries,
    reasonCode: ReasonCode.DeadLettered,
    reasonDetail,
  });
  deps.log.warn({ jobId, component: event.component, deliveries: event.deliveries }, "job dead-lettered");
  return failed;
}

/** Redrive dedup keys are `<job_id>:redrive:<n>`; the first publish's key is the job id itself. */
function dedupKeyJobId(dedupKey: string | undefined): string | undefined {
  if (dedupKey === undefined) return undefined;
  const at = dedupKey.indexOf(":redrive:");
  return at === -1 ? dedupKey : dedupKey.slice(0, at);
}
