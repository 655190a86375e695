import {
  RetentionPolicy,
  type ConsumerConfig,
  type ConsumerInfo,
  type JetStreamManager,
  type StreamInfo,
} from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";

/** Most stale entries acked by one repair (each is one small core publish); the next repair does the rest. */
const MAX_STALE_ACKS = 100_000;
/** Up to this many sequences between the ack floor and the last delivery, they are checked one by one. */
const PRECISE_SPAN = 10_000;

export interface RepairOutcome {
  /** Acks sent for sequences the consumer may hold that are no longer in the stream: its stale entries among them. */
  acksForRemoved: number;
  /** The consumer was deleted and created again (its stream's sequence had gone backwards). */
  recreated: boolean;
}

/**
 * Repairs what a SIGKILLed nats-server 2.9 can leave in a durable consumer of a work-queue stream. Its file
 * store writes a stream's removals and a consumer's state separately and asynchronously, so a kill can keep
 * one and lose the other (seen in the fault suite, and reproduced with a bare server and client):
 *
 * - **Stale pending entries.** A message acked just before the kill is gone from the stream (work-queue
 *   removal) but the restored consumer state still holds it as delivered and unacknowledged. The server
 *   never clears such an entry: it is never redelivered (there is no message to load; 2.9 skips it and
 *   leaves it pending) and nobody will ever ack it, so num_ack_pending stays above zero for good. The queue
 *   never looks drained, and the entry counts against max_ack_pending. Repair: ack each sequence the
 *   consumer may hold (above its ack floor, up to what it delivered) that is no longer in the stream. The
 *   server matches an ack by stream sequence, and a message no longer in the stream cannot be legitimately
 *   pending, so the ack is right whether or not the entry is stale. **That filter is what keeps the repair
 *   from deleting live jobs**: on a work queue, 2.9 removes the message of any sequence acked this way,
 *   held or not (checked: an ack for a sequence never delivered removed it). It reads the stream after the
 *   consumer, and sequences are never reused, except after the sequence went backwards, which the next
 *   case handles before any ack is sent.
 * - **A stream sequence that went backwards.** A stream emptied by acks just before the kill can come back
 *   with its last sequence lost (0), while its consumer still remembers having delivered up to, say, 600:
 *   the next 600 jobs are stored at sequences the consumer considers delivered, and are never delivered.
 *   Repair (only where this process may create consumers): delete the consumer and create it again with the
 *   same configuration, so it starts from the stream's first message.
 *
 * Cheap when there is nothing to repair: two info requests, and a third when the consumer holds messages.
 * Meant to run after every reconnect (the server may have restarted) and when a consumer is bound (it may
 * have restarted while nobody was connected). *Not detected*: a sequence that went backwards and that new
 * publishes have already carried past the consumer's position before the first check (the check runs
 * within milliseconds of the reconnect, the window is that short).
 */
export async function repairWorkQueueConsumer(
  nc: NatsConnection,
  jsm: JetStreamManager,
  stream: string,
  durable: string,
  opts: { mayRecreate: boolean },
): Promise<RepairOutcome> {
  // Stream first, then consumer: an ack landing between the two lowers both counts in the second reading
  // only, so it cannot make live entries look stale. (A publish in between can make the cheap check fire
  // needlessly; the precise check below only ever acks sequences absent from the stream.)
  const si = await jsm.streams.info(stream);
  // The reasoning below holds only where an ack removes the message (job streams are work queues).
  if (si.config.retention !== RetentionPolicy.Workqueue) return { acksForRemoved: 0, recreated: false };
  const ci = await jsm.consumers.info(stream, durable);
  if (ci.delivered.stream_seq > si.state.last_seq) {
    if (!opts.mayRecreate) return { acksForRemoved: 0, recreated: false };
    return { acksForRemoved: 0, recreated: await recreate(jsm, stream, durable, ci.created) };
  }
  if (ci.num_ack_pending === 0) return { acksForRemoved: 0, recreated: false };
  // In a work-queue stream every message at or below the consumer's position is one it holds (delivered
  // and not acked), so holding more than that means stale entries. The count can hide them: the same kill
  // can also keep a message the consumer has as acked, which is counted as held. So while the span the
  // consumer may hold is small (the usual case: the jobs in flight), look at the sequences themselves.
  const held = si.state.messages - ci.num_pending;
  const span = Math.min(ci.delivered.stream_seq, si.state.last_seq) - ci.ack_floor.stream_seq;
  if (ci.num_ack_pending <= held && span > PRECISE_SPAN) return { acksForRemoved: 0, recreated: false };
  return { acksForRemoved: await ackStale(nc, jsm, stream, durable, ci), recreated: false };
}

async function ackStale(
  nc: NatsConnection,
  jsm: JetStreamManager,
  stream: string,
  durable: string,
  ci: ConsumerInfo,
): Promise<number> {
  const si: StreamInfo = await jsm.streams.info(stream, { deleted_details: true });
  const deleted = new Set(si.state.deleted ?? []);
  const last = Math.min(ci.delivered.stream_seq, si.state.last_seq);
  let sent = 0;
  for (let seq = ci.ack_floor.stream_seq + 1; seq <= last && sent < MAX_STALE_ACKS; seq++) {
    if (seq >= si.state.first_seq && !deleted.has(seq)) continue;
    // An ack reply subject: $JS.ACK.<stream>.<consumer>.<delivery count>.<stream seq>.<consumer seq>.<time>.<pending>.
    // The server finds the entry by stream sequence and takes the rest from it.
    nc.publish(`$JS.ACK.${stream}.${durable}.1.${seq}.0.0.0`);
    sent++;
  }
  if (sent > 0) await nc.flush();
  return sent;
}

async function recreate(jsm: JetStreamManager, stream: string, durable: string, seenCreated: string): Promise<boolean> {
  // Read again right before deleting: another process may have repaired it already (a consumer created
  // since the first read is not the one that was out of step).
  const [si, ci] = [await jsm.streams.info(stream), await jsm.consumers.info(stream, durable)];
  if (ci.created !== seenCreated || ci.delivered.stream_seq <= si.state.last_seq) return false;
  const config: Partial<ConsumerConfig> = { ...ci.config };
  await jsm.consumers.delete(stream, durable);
  // Deleted, it must come back: nothing of this component is delivered until it does.
  let lastError: unknown;
  for (let attempt = 0; attempt < 8; attempt++) {
    try {
      await jsm.consumers.add(stream, config);
      return true;
    } catch (err) {
      lastError = err;
      // Another process recreated it first: same configuration, so it is repaired.
      if (
        await jsm.consumers.info(stream, durable).then(
          () => true,
          () => false,
        )
      )
        return true;
      await new Promise((r) => setTimeout(r, 100 * 2 ** attempt).unref());
    }
  }
  throw new Error(
    `deleted the job consumer ${durable} of ${stream} to recreate it, and could not create it again: ${(lastError as Error)?.message ?? String(lastError)}`,
    { cause: lastError },
  );
}
