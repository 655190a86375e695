import type { JetStreamClient, JetStreamManager, MsgRequest } from "@nats-io/jetstream";
import {
  RESULTS_STREAM,
  decodeResult,
  jobStreamName,
  jobSubject,
  resultsSubject,
  type Result,
} from "@tessera/contract";
import type { StoredJob } from "../bus.js";
import { jobIdOf } from "../envelope-job-id.js";
import { isMessageNotFound, isStreamNotFound } from "./nats-errors.js";

/**
 * The latest Result of every job of `component` in the Results stream (limits retention, so an ordered
 * consumer may read it without taking anything away from the coordinator's durable consumer).
 */
export async function readResults(js: JetStreamClient, component: string): Promise<Result[]> {
  let consumer;
  try {
    consumer = await js.consumers.get(RESULTS_STREAM, { filter_subjects: resultsSubject(component) });
  } catch (err) {
    if (isStreamNotFound(err)) return [];
    throw err;
  }
  const latest = new Map<string, Result>();
  try {
    let remaining = (await consumer.info()).num_pending;
    let idle = 0;
    while (remaining > 0 && idle < 3) {
      const before = latest.size;
      let read = 0;
      const iter = await consumer.fetch({ max_messages: Math.min(remaining, 10_000), expires: 2_000 });
      for await (const m of iter) {
        read++;
        const decoded = decodeResult(m.data);
        if (decoded.ok) latest.set(decoded.value.job_id, decoded.value);
        remaining = m.info.pending;
      }
      idle = read === 0 && latest.size === before ? idle + 1 : 0;
    }
  } finally {
    await consumer.delete().catch(() => undefined);
  }
  return [...latest.values()];
}

/**
 * The jobs stored in a component's job stream. A WorkQueue stream refuses a second unfiltered consumer
 * beside the workers' durable one, so the messages are read by direct gets, each asking for the next
 * message on the job subject at or after a sequence: one request per stored message, none for the gaps
 * acked jobs left.
 */
export async function readStoredJobs(jsm: JetStreamManager, component: string): Promise<StoredJob[]> {
  const stream = jobStreamName(component);
  const out: StoredJob[] = [];
  let seq = 1;
  for (;;) {
    let stored;
    try {
      // The server's STREAM.MSG.GET takes `next_by_subj` (2.9+); the client types it only for direct gets,
      // which need `allow_direct` on the stream.
      const next = { seq, next_by_subj: jobSubject(component) } as unknown as MsgRequest;
      stored = await jsm.streams.getMessage(stream, next);
    } catch (err) {
      if (isMessageNotFound(err) || isStreamNotFound(err)) return out;
      throw err;
    }
    if (stored === null) return out;
    out.push({
      component,
      jobId: jobIdOf(stored.data) ?? (stored.header?.get("Nats-Msg-Id") || undefined),
      streamSeq: stored.seq,
    });
    seq = stored.seq + 1;
  }
}
