/**
 * The archive sink as its own process, for the SIGKILL test. Env: NATS_URL, DIR (the archive directory),
 * MAX_RECORDS, and CRASH, where the process SIGKILLs itself:
 *   `intent:<batch>`          after the checkpoint names the batch's files, before any is written
 *   `file:<batch>:<index>`    after that file of the batch is durably written (others not yet)
 *   `torn:<batch>:<index>`    while writing that file: half its bytes land at the final path (a torn write)
 *   `committed:<batch>`       after the batch's commit
 * Batches count from 1 in each process. Every step is printed as a JSON line before it can crash.
 */
import { writeFile, mkdir } from "node:fs/promises";
import { dirname, join } from "node:path";
import { connect } from "@nats-io/transport-node";
import { directoryTarget, startArchiveSink, type ArchiveStep, type ArchiveTarget } from "@tessera/gateway";

const dir = process.env["DIR"] ?? "";
const crash = (process.env["CRASH"] ?? "").split(":");
const print = (line: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(line)}\n`);
const die = (): never => {
  process.kill(process.pid, "SIGKILL");
  throw new Error("unreachable");
};

let batch = 1;
let fileIndex = 0;
const inner = directoryTarget(dir);
const target: ArchiveTarget = {
  ...inner,
  async write(path, bytes) {
    if (crash[0] === "torn" && Number(crash[1]) === batch && Number(crash[2]) === fileIndex) {
      const file = join(dir, ...path.split("/"));
      await mkdir(dirname(file), { recursive: true });
      await writeFile(file, bytes.subarray(0, Math.floor(bytes.byteLength / 2)));
      print({ event: "crashing", at: crash.join(":"), path });
      die();
    }
    fileIndex++;
    await inner.write(path, bytes);
  },
};

const matches = (step: ArchiveStep): boolean => {
  if (crash[0] !== step.type || Number(crash[1]) !== step.batch) return false;
  return step.type !== "file" || Number(crash[2]) === step.index;
};

const nc = await connect({ servers: process.env["NATS_URL"] ?? "" });
await startArchiveSink({
  nats: nc,
  target,
  maxRecords: Number(process.env["MAX_RECORDS"] ?? "10"),
  maxDelayMs: 100,
  onStep: (step) => {
    print({ event: "step", ...step });
    if (matches(step)) {
      print({ event: "crashing", at: crash.join(":") });
      die();
    }
    if (step.type === "committed") {
      batch = step.batch + 1;
      fileIndex = 0;
    }
  },
  onEvent: (event) => {
    if (event.type === "resumed")
      print({ event: "resumed", committed: event.committed, removed: event.removedPending });
  },
});
