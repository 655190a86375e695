import type { JetStreamManager } from "@nats-io/jetstream";
import { jetstream } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import {
  archiveFileName,
  archivePartition,
  decodeMessage,
  encodeMessage,
  gatewayStreamName,
  inboundSubject,
  type Message,
} from "@tessera/contract";
import { messageId, type ArchiveTarget } from "@tessera/gateway";
import { expect } from "vitest";

export const CHANNELS = ["slack", "github"] as const;
/** Either side of a UTC midnight: two date partitions. */
export const DAYS = ["2026-12-05T23:59:59.500Z", "2026-12-06T00:00:00.250Z"] as const;

/** Publishes `count` Messages spread over 2 channels × 2 dates, so every batch touches several partitions. */
export async function publishSpread(nc: NatsConnection, prefix: string, count: number): Promise<void> {
  const js = jetstream(nc);
  for (let i = 0; i < count; i++) {
    const channelType = CHANNELS[i % 2]!;
    const source = `${prefix}-${i}`;
    const message: Message = {
      schema_version: 1,
      id: messageId(channelType, "acme", "w1", source),
      scope: { tenant: "acme", account: "w1", conversation: "c-1" },
      channel_type: channelType,
      source_message_id: source,
      sender: { id: "u-1" },
      text: `message ${source}`,
      attachments: [],
      received_at: DAYS[Math.floor(i / 2) % 2]!,
      attributes: {},
    };
    await js.publish(inboundSubject({ channelType, tenant: "acme", account: "w1" }), encodeMessage(message), {
      msgID: message.id,
    });
  }
}

/** Every valid Message in the inbound stream with its sequence: the ground truth an archive must hold. */
export async function streamContents(jsm: JetStreamManager, channelType?: string): Promise<Map<string, number>> {
  const stream = gatewayStreamName("inbound");
  const { state } = await jsm.streams.info(stream);
  const bySeq = new Map<string, number>();
  for (let seq = state.first_seq; state.messages > 0 && seq <= state.last_seq; seq++) {
    const m = await jsm.streams.getMessage(stream, { seq }).catch(() => undefined);
    const decoded = m === undefined || m === null ? undefined : decodeMessage(m.data);
    if (decoded?.ok && (channelType === undefined || decoded.value.channel_type === channelType))
      bySeq.set(decoded.value.id, seq);
  }
  return bySeq;
}

/**
 * Checks an archive against the stream: every Message in exactly one file (no gap, no duplicate), each file in
 * its Message's partition and named by the sequences of its first and last record, no temporary file left.
 */
export async function expectExactArchive(
  target: ArchiveTarget,
  consumer: string,
  expected: Map<string, number>,
): Promise<{ files: number }> {
  const paths = await target.list();
  const seen = new Map<string, string>();
  for (const path of paths) {
    expect(path).toMatch(/^channel_type=[a-z-]+\/date=\d{4}-\d{2}-\d{2}\/[a-z0-9-]+-\d+-\d+\.ndjson$/);
    const bytes = await target.read(path);
    const lines = new TextDecoder().decode(bytes).split("\n");
    expect(lines.pop()).toBe("");
    const seqs: number[] = [];
    for (const line of lines) {
      const message = JSON.parse(line) as Message;
      expect(path.startsWith(`${archivePartition(message.channel_type, message.received_at)}/`)).toBe(true);
      const previous = seen.get(message.id);
      expect(previous, `${message.id} is in ${previous} and ${path}`).toBeUndefined();
      seen.set(message.id, path);
      const seq = expected.get(message.id);
      expect(seq, `${message.id} in ${path} is not in the stream`).toBeDefined();
      seqs.push(seq!);
    }
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    expect(path.endsWith(`/${archiveFileName(consumer, seqs[0]!, seqs[seqs.length - 1]!)}`)).toBe(true);
  }
  const missing = [...expected.keys()].filter((id) => !seen.has(id));
  expect(missing, "messages in the stream but in no archive file").toEqual([]);
  expect(seen.size).toBe(expected.size);
  return { files: paths.length };
}
