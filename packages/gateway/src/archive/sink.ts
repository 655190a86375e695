import { DeliverPolicy, jetstream, jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { decodeMessage, gatewayDurableName, gatewayStreamName, gatewaySubjectFilter } from "@tessera/contract";
import { planArchiveFiles, type ArchiveRecord } from "./batch.js";
import type { ArchiveTarget } from "./target.js";

/*
 * The archive sink: reads a gateway stream in order and writes NDJSON files named by stream sequences under hive
 * partitions. Crash safety (decision 0041): the target holds a checkpoint per consumer, and the sink's position is
 * the checkpoint, never a consumer's ack state. For each batch:
 *   1. checkpoint {committed: C, pending: [the batch's files]}   (the intent)
 *   2. write each file atomically and durably
 *   3. checkpoint {committed: last seq of the batch, pending: []} (the commit)
 * A restart removes whatever `pending` names (a crash inside 2 may have left some of them) and reads again from
 * C + 1 with an ordered consumer, so every record ends up in exactly one committed file: no gap (nothing after C
 * was counted as written) and no duplicate (no file of an uncommitted batch survives, and committed files cover
 * disjoint ranges).
 */

export const ARCHIVE_DEFAULTS = {
  maxRecords: 1000,
  maxDelayMs: 10_000,
  /** After a failed write the sink starts over from its checkpoint, waiting this long, doubling per failure… */
  restartDelayMs: 500,
  /** …up to this. */
  maxRestartDelayMs: 30_000,
} as const;

export type ArchiveStep =
  | { type: "intent"; batch: number; files: string[] }
  | { type: "file"; batch: number; index: number; path: string }
  | { type: "committed"; batch: number; seq: number };

export type ArchiveEvent =
  | ArchiveStep
  | { type: "resumed"; committed: number; removedPending: number }
  | { type: "retention_gap"; from: number; to: number }
  | { type: "skipped"; seq: number; detail: string }
  | { type: "error"; error: unknown }
  | { type: "restarted"; after: number };

export interface ArchiveSinkOptions {
  nats: NatsConnection;
  target: ArchiveTarget;
  /** Which stream to archive: the inbound Messages, or the enriched ones (with stored attachments). */
  stream?: "inbound" | "enriched";
  /** Only this channel type (its own consumer name and checkpoint). */
  channelType?: string;
  /**
   * The file name prefix and checkpoint name; default `tessera-gw-archive[-<channel>]` for the inbound stream and
   * `tessera-gw-enriched-archive[-<channel>]` for the enriched one, so both can share a target.
   */
  consumer?: string;
  /** A batch is written once it holds this many Messages… */
  maxRecords?: number;
  /** …or this long after its first Message arrived. */
  maxDelayMs?: number;
  /** Awaited at each step of the commit protocol (the crash tests kill the process here). */
  onStep?: (step: ArchiveStep) => void | Promise<void>;
  onEvent?: (event: ArchiveEvent) => void;
}

export interface ArchiveSink {
  readonly consumer: string;
  /** The last stream sequence whose batch is committed. */
  committed(): number;
  /** Writes what is buffered, then stops. */
  stop(): Promise<void>;
}

export async function startArchiveSink(options: ArchiveSinkOptions): Promise<ArchiveSink> {
  const kind = options.stream ?? "inbound";
  const subjectKind = kind === "inbound" ? "in" : "enriched";
  const stream = gatewayStreamName(kind);
  const consumer =
    options.consumer ?? gatewayDurableName(kind === "inbound" ? "archive" : "enriched-archive", options.channelType);
  const maxRecords = options.maxRecords ?? ARCHIVE_DEFAULTS.maxRecords;
  const maxDelayMs = options.maxDelayMs ?? ARCHIVE_DEFAULTS.maxDelayMs;
  const { target } = options;
  const emit = (event: ArchiveEvent) => options.onEvent?.(event);
  const step = async (s: ArchiveStep) => {
    await options.onStep?.(s);
    emit(s);
  };

  let committed = 0;
  let batchNo = 0;

  /**
   * One reading session: recover from the checkpoint, then read from `committed + 1` until stopped or until the
   * target fails. `done` resolves with the failure (undefined when stopped or when the connection closed).
   */
  const openSession = async (): Promise<{ done: Promise<unknown>; stop(): Promise<void> }> => {
    // Recover: drop what an interrupted batch may have left, then resume after the last commit.
    const saved = (await target.readCheckpoint(consumer)) ?? { committed: 0, pending: [] };
    for (const path of saved.pending) await target.remove(path);
    if (saved.pending.length > 0) await target.writeCheckpoint(consumer, { committed: saved.committed, pending: [] });
    committed = saved.committed;
    emit({ type: "resumed", committed, removedPending: saved.pending.length });

    const info = await (await jetstreamManager(options.nats)).streams.info(stream);
    if (info.state.messages > 0 && info.state.first_seq > committed + 1)
      emit({ type: "retention_gap", from: committed + 1, to: info.state.first_seq - 1 });

    const ordered = await jetstream(options.nats).consumers.get(stream, {
      // One subject as a string: a list needs nats-server 2.10.
      filter_subjects: gatewaySubjectFilter(subjectKind, options.channelType),
      deliver_policy: DeliverPolicy.StartSequence,
      opt_start_seq: committed + 1,
    });
    const messages = await ordered.consume({ max_messages: Math.min(maxRecords, 1000) });

    let buffer: ArchiveRecord[] = [];
    let bufferedUpTo = committed;
    let timer: NodeJS.Timeout | undefined;
    let chain: Promise<void> = Promise.resolve();
    let failed: unknown;

    const flush = async (): Promise<void> => {
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
      if (failed !== undefined || bufferedUpTo === committed) return;
      const records = buffer;
      const upTo = bufferedUpTo;
      buffer = [];
      const batch = ++batchNo;
      const files = planArchiveFiles(consumer, records);
      const paths = files.map((f) => f.path);
      await target.writeCheckpoint(consumer, { committed, pending: paths });
      await step({ type: "intent", batch, files: paths });
      for (const [index, file] of files.entries()) {
        await target.write(file.path, file.bytes);
        await step({ type: "file", batch, index, path: file.path });
      }
      await target.writeCheckpoint(consumer, { committed: upTo, pending: [] });
      committed = upTo;
      await step({ type: "committed", batch, seq: upTo });
    };
    const schedule = (): Promise<void> => {
      chain = chain.then(flush).catch((error: unknown) => {
        // The batch's records are dropped from memory and the checkpoint may hold its intent: this session
        // ends, and the next one recovers from the checkpoint and reads them again.
        failed ??= error;
        emit({ type: "error", error });
        void messages.close();
      });
      return chain;
    };

    const loop = (async () => {
      for await (const m of messages) {
        if (failed !== undefined) break;
        const decoded = decodeMessage(m.data);
        if (decoded.ok) buffer.push({ seq: m.seq, message: decoded.value });
        else emit({ type: "skipped", seq: m.seq, detail: decoded.error.message });
        bufferedUpTo = m.seq;
        if (buffer.length >= maxRecords) await schedule();
        else if (timer === undefined) timer = setTimeout(() => void schedule(), maxDelayMs);
      }
    })();

    return {
      done: loop.then(
        () => chain.then(() => failed),
        (error: unknown) => error,
      ),
      async stop() {
        await messages.close().catch(() => undefined);
        await loop.catch(() => undefined);
        await schedule();
        if (timer !== undefined) clearTimeout(timer);
      },
    };
  };

  // The first session's errors (a bad target, a missing stream) are the caller's; later ones restart it.
  let current = await openSession();
  let stopping = false;
  let wake: (() => void) | undefined;
  const pause = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  const supervisor = (async () => {
    for (let failures = 0; !stopping;) {
      const error = await current.done;
      if (stopping || error === undefined) return;
      failures++;
      for (;;) {
        await pause(
          Math.min(ARCHIVE_DEFAULTS.maxRestartDelayMs, ARCHIVE_DEFAULTS.restartDelayMs * 2 ** (failures - 1)),
        );
        if (stopping) return;
        try {
          current = await openSession();
          emit({ type: "restarted", after: failures });
          break;
        } catch (openError) {
          emit({ type: "error", error: openError });
          failures++;
        }
      }
    }
  })();

  return {
    consumer,
    committed: () => committed,
    async stop() {
      stopping = true;
      wake?.();
      await current.stop();
      await supervisor;
    },
  };
}
