/**
 * Issue 20 item 6's promise: a SIGKILL at any point of the archive sink leaves no gap and no duplicate record
 * across files. The sink runs as its own process and is killed (a real SIGKILL) at each step of its commit
 * protocol — after the intent, after some of a batch's files, in the middle of writing a file, after the commit
 * — and at random moments, while Messages keep arriving; a last clean run catches up, and the directory must
 * then hold every Message of the stream exactly once.
 */
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { jetstreamManager, type JetStreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { gatewayStreamName } from "@tessera/contract";
import { directoryTarget, ensureGatewayStreams } from "@tessera/gateway";
import { spawnTsProcess, startNatsServer, type NatsServerHandle, type TsProcess } from "@tessera/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectExactArchive, publishSpread, streamContents } from "./support/archive-fixture.js";

const here = dirname(fileURLToPath(import.meta.url));
let nats: NatsServerHandle;
let nc: NatsConnection;
let jsm: JetStreamManager;
let dir: string;
const children: TsProcess[] = [];

beforeAll(async () => {
  nats = await startNatsServer();
  nc = await connect({ servers: nats.url });
  jsm = await jetstreamManager(nc);
  await ensureGatewayStreams(jsm);
  dir = await mkdtemp(join(tmpdir(), "tessera-archive-kill-"));
});
afterAll(async () => {
  await Promise.all(children.map((c) => c.kill()));
  await nc?.close();
  await nats?.stop();
  await rm(dir, { recursive: true, force: true });
});

/** Each start batches differently (as a redeploy with another batch size would), so a redone batch is cut
 * differently from the one that crashed and its leftovers cannot hide behind equal file names. */
let starts = 0;
const BATCH_SIZES = [10, 7, 13, 9, 11];

function startSink(crash: string): TsProcess {
  const maxRecords = BATCH_SIZES[starts++ % BATCH_SIZES.length]!;
  const child = spawnTsProcess(join(here, "support", "archive-process.ts"), {
    cwd: join(here, ".."),
    env: { NATS_URL: nats.url, DIR: dir, CRASH: crash, MAX_RECORDS: String(maxRecords) },
  });
  children.push(child);
  return child;
}

async function runUntilCrash(crash: string): Promise<Record<string, unknown>> {
  const child = startSink(crash);
  const crashed = await child.line(`the sink to crash at ${crash}`, (l) => l["event"] === "crashing", 60_000);
  const exit = await child.exited;
  expect(exit.signal).toBe("SIGKILL");
  return crashed;
}

const lastSeq = async () => (await jsm.streams.info(gatewayStreamName("inbound"))).state.last_seq;

describe("archive sink under SIGKILL", () => {
  it("leaves no gap and no duplicate whichever step it dies at", { timeout: 240_000 }, async () => {
    // Each batch of 7 or more spans 4 partitions (2 channels x 2 dates), so a batch writes several files.
    await publishSpread(nc, "a", 40);
    // Dies after naming batch 2's files, before writing any.
    await runUntilCrash("intent:2");
    await publishSpread(nc, "b", 20);
    // Dies with batch 2 half written (file 0 and 1 durable, the rest not).
    await runUntilCrash("file:2:1");
    // Dies in the middle of writing a file: a torn file at its final name.
    await runUntilCrash("torn:1:2");
    await publishSpread(nc, "c", 30);
    // Dies right after a commit (the next batch must not repeat it).
    await runUntilCrash("committed:2");
    // Dies right after the first file of the first batch.
    await runUntilCrash("file:1:0");

    // Killed from outside at random moments while Messages arrive.
    for (let round = 0; round < 3; round++) {
      const child = startSink("");
      await child.line("the sink to resume", (l) => l["event"] === "resumed", 60_000);
      const publishing = publishSpread(nc, `r${round}`, 25);
      await new Promise((resolve) => setTimeout(resolve, 50 + Math.floor(Math.random() * 400)));
      await child.kill();
      await publishing;
    }

    // A clean run catches up. The last random kill may have come after the sink committed everything, so the
    // clean run may find nothing left to commit: its resume then already names the stream's last message.
    const end = await lastSeq();
    const last = startSink("");
    await last.line(
      "the sink to commit the stream's last message",
      (l) => (l["type"] === "committed" && l["seq"] === end) || (l["event"] === "resumed" && l["committed"] === end),
      60_000,
    );
    const resumes = children.flatMap((c) => c.lines.filter((l) => l["event"] === "resumed"));
    // Restarts after a crash inside a batch found its files named in the checkpoint and removed them.
    expect(resumes.some((r) => Number(r["removed"]) > 0)).toBe(true);
    await last.kill();

    const target = directoryTarget(dir);
    const { files } = await expectExactArchive(target, "tessera-gw-archive", await streamContents(jsm));
    expect(files).toBeGreaterThan(10);
    expect(await target.readCheckpoint("tessera-gw-archive")).toEqual({ committed: end, pending: [] });
    const leftovers = (await readdir(dir, { recursive: true })).filter((p) => String(p).endsWith(".tmp"));
    expect(leftovers).toEqual([]);
  });
});
