import { archiveFileName, archivePartition, type Message } from "@tessera/contract";

export interface ArchiveRecord {
  /** The Message's sequence in the stream it was read from. */
  seq: number;
  message: Message;
}

export interface ArchiveFile {
  /** `channel_type=<slug>/date=<YYYY-MM-DD>/<consumer>-<first seq>-<last seq>.ndjson` */
  path: string;
  first: number;
  last: number;
  count: number;
  bytes: Uint8Array;
}

const encoder = new TextEncoder();

/**
 * Splits one batch (records in stream order) into one NDJSON file per hive partition, each named by the
 * sequences of its own first and last record. Pure: the same records always give the same files.
 */
export function planArchiveFiles(consumer: string, records: readonly ArchiveRecord[]): ArchiveFile[] {
  const byPartition = new Map<string, ArchiveRecord[]>();
  for (const record of records) {
    const partition = archivePartition(record.message.channel_type, record.message.received_at);
    const list = byPartition.get(partition);
    if (list === undefined) byPartition.set(partition, [record]);
    else list.push(record);
  }
  return [...byPartition.entries()].map(([partition, list]) => {
    const first = list[0]!.seq;
    const last = list[list.length - 1]!.seq;
    // Re-serialized from the decoded Message: one line each whatever whitespace the producer used.
    const text = list.map((r) => JSON.stringify(r.message)).join("\n") + "\n";
    return {
      path: `${partition}/${archiveFileName(consumer, first, last)}`,
      first,
      last,
      count: list.length,
      bytes: encoder.encode(text),
    };
  });
}
