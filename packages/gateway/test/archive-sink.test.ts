/**
 * Issue 20 item 6, the archive sink in process: NDJSON files named `<consumer>-<first seq>-<last seq>.ndjson`
 * under `channel_type=<slug>/date=<YYYY-MM-DD>/`, to a directory or an S3-compatible bucket (s3rver), resuming
 * from its checkpoint. The crash cases (a real SIGKILL) are in archive-sigkill.test.ts.
 */
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { jetstream, jetstreamManager, type JetStreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { decodeMessage, encodeMessage, enrichedSubject, gatewayStreamName, inboundSubject } from "@tessera/contract";
import {
  directoryTarget,
  ensureGatewayStreams,
  s3ArchiveTarget,
  startArchiveSink,
  type ArchiveEvent,
  type ArchiveTarget,
} from "@tessera/gateway";
import { startNatsServer, waitFor, type NatsServerHandle } from "@tessera/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectExactArchive, publishSpread, streamContents } from "./support/archive-fixture.js";
import { startLocalS3, type LocalS3 } from "./support/s3-server.js";

let nats: NatsServerHandle;
let nc: NatsConnection;
let jsm: JetStreamManager;
let s3: LocalS3;
const dirs: string[] = [];

beforeAll(async () => {
  [nats, s3] = await Promise.all([startNatsServer(), startLocalS3(["archive"])]);
  nc = await connect({ servers: nats.url });
  jsm = await jetstreamManager(nc);
  await ensureGatewayStreams(jsm);
  await publishSpread(nc, "base", 45);
  // Not a Message: skipped (it never becomes valid), and the position moves past it.
  await jetstream(nc).publish(inboundSubject({ channelType: "slack", tenant: "acme", account: "w1" }), "{not json");
});
afterAll(async () => {
  await nc?.close();
  await Promise.all([nats?.stop(), s3?.stop()]);
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "tessera-archive-"));
  dirs.push(dir);
  return dir;
}

const lastSeq = async () => (await jsm.streams.info(gatewayStreamName("inbound"))).state.last_seq;

describe.each([
  ["a directory", "dir"],
  ["an S3-compatible bucket", "s3"],
] as const)("archive sink to %s", (_name, kind) => {
  let target: ArchiveTarget;
  let root = "";
  beforeAll(async () => {
    root = await tempDir();
    target =
      kind === "dir" ? directoryTarget(root) : s3ArchiveTarget({ client: s3.client, bucket: "archive", prefix: "gw/" });
  });

  it("writes every Message once, by partition and offsets, in batches by size and by time, and resumes after a stop", async () => {
    const events: ArchiveEvent[] = [];
    const first = await startArchiveSink({
      nats: nc,
      target,
      maxRecords: 8,
      maxDelayMs: 150,
      onEvent: (e) => events.push(e),
    });
    expect(first.consumer).toBe("tessera-gw-archive");
    const end = await lastSeq();
    await waitFor("the first archive to catch up", () => first.committed() === end, 15_000);
    await first.stop();
    expect(events.filter((e) => e.type === "skipped")).toHaveLength(1);
    const full = events.filter((e) => e.type === "committed").length;
    // 46 stream messages in batches of at most 8; the tail goes out on the timer.
    expect(full).toBeGreaterThanOrEqual(6);

    await publishSpread(nc, `more-${kind}`, 13);
    const second = await startArchiveSink({
      nats: nc,
      target,
      maxRecords: 8,
      maxDelayMs: 150,
      onEvent: (e) => events.push(e),
    });
    expect(events).toContainEqual({ type: "resumed", committed: end, removedPending: 0 });
    const end2 = await lastSeq();
    await waitFor("the second archive to catch up", () => second.committed() === end2, 15_000);
    await second.stop();

    const { files } = await expectExactArchive(target, "tessera-gw-archive", await streamContents(jsm));
    expect(files).toBeGreaterThan(4);
    const checkpoint = await target.readCheckpoint("tessera-gw-archive");
    expect(checkpoint).toEqual({ committed: end2, pending: [] });
    if (kind === "dir") {
      const all = await readdir(root, { recursive: true });
      expect(all.filter((p) => String(p).endsWith(".tmp"))).toEqual([]);
    }
  });

  it("archives one channel under its own consumer name and checkpoint", async () => {
    const sink = await startArchiveSink({ nats: nc, target, channelType: "github", maxRecords: 100, maxDelayMs: 100 });
    expect(sink.consumer).toBe("tessera-gw-archive-github");
    const github = await streamContents(jsm, "github");
    const lastGithub = Math.max(...github.values());
    await waitFor("the github archive", () => sink.committed() >= lastGithub, 15_000);
    await sink.stop();
    const own = onlyConsumer(target, "tessera-gw-archive-github");
    await expectExactArchive(own, "tessera-gw-archive-github", github);
  });
});

describe("archive sink on the enriched stream", () => {
  it("archives enriched Messages under its own consumer name beside the inbound archive", async () => {
    const root = await tempDir();
    const target = directoryTarget(root);
    const inbound = await streamContents(jsm);
    const js = jetstream(nc);
    const enriched = new Map<string, number>();
    for (const id of [...inbound.keys()].slice(0, 5)) {
      const stored = await jsm.streams.getMessage(gatewayStreamName("inbound"), { seq: inbound.get(id)! });
      if (stored === null) throw new Error(`inbound message ${id} is gone`);
      const message = decodeMessage(stored.data);
      if (!message.ok) throw message.error;
      const ack = await js.publish(
        enrichedSubject({ channelType: message.value.channel_type, ...message.value.scope }),
        encodeMessage(message.value),
        { msgID: id },
      );
      enriched.set(id, ack.seq);
    }
    const sinks = await Promise.all([
      startArchiveSink({ nats: nc, target, stream: "enriched", maxDelayMs: 50 }),
      startArchiveSink({ nats: nc, target, maxDelayMs: 50 }),
    ]);
    expect(sinks.map((s) => s.consumer)).toEqual(["tessera-gw-enriched-archive", "tessera-gw-archive"]);
    const ends = [Math.max(...enriched.values()), await lastSeq()];
    await waitFor("both archives", () => sinks.every((s, i) => s.committed() === ends[i]), 15_000);
    await Promise.all(sinks.map((s) => s.stop()));
    await expectExactArchive(
      onlyConsumer(target, "tessera-gw-enriched-archive"),
      "tessera-gw-enriched-archive",
      enriched,
    );
    await expectExactArchive(
      onlyConsumer(target, "tessera-gw-archive"),
      "tessera-gw-archive",
      await streamContents(jsm),
    );
  });
});

describe("archive sink when the target fails", () => {
  it("starts over from its checkpoint after a failed write, and still writes every Message once", async () => {
    const inner = directoryTarget(await tempDir());
    let writes = 0;
    let advancing = 0;
    let lastCommitted = 0;
    const flaky: ArchiveTarget = {
      ...inner,
      write: async (path, bytes) => {
        // The 3rd file write fails (mid-batch: earlier files of that batch are written).
        if (++writes === 3) throw new Error("disk full");
        await inner.write(path, bytes);
      },
      writeCheckpoint: async (consumer, checkpoint) => {
        // The 3rd commit fails too, after all of its batch's files were written.
        const commits = checkpoint.pending.length === 0 && checkpoint.committed > lastCommitted;
        if (commits && ++advancing === 3) throw new Error("network partition");
        await inner.writeCheckpoint(consumer, checkpoint);
        if (commits) lastCommitted = checkpoint.committed;
      },
    };
    const events: ArchiveEvent[] = [];
    const sink = await startArchiveSink({
      nats: nc,
      target: flaky,
      maxRecords: 6,
      maxDelayMs: 50,
      onEvent: (e) => events.push(e),
    });
    const end = await lastSeq();
    await waitFor("the archive to catch up after two failures", () => sink.committed() === end, 20_000);
    await sink.stop();
    expect(events.filter((e) => e.type === "error")).toHaveLength(2);
    expect(events.filter((e) => e.type === "restarted")).toHaveLength(2);
    expect(events.filter((e) => e.type === "resumed" && e.removedPending > 0)).toHaveLength(2);
    await expectExactArchive(inner, "tessera-gw-archive", await streamContents(jsm));
  });
});

/** The target's files of one consumer only (two consumers share the partitions). */
function onlyConsumer(target: ArchiveTarget, consumer: string): ArchiveTarget {
  return {
    ...target,
    list: async () => (await target.list()).filter((p) => new RegExp(`/${consumer}-\\d+-\\d+\\.ndjson$`).test(p)),
  };
}
