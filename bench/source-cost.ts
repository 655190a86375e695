/**
 * What a source_locator job costs over a content_ref job of the same document (docs/performance.md, "source_locator
 * jobs"). One coordinator (the memory store) and one worker in this process on a real nats-server, a document server
 * on 127.0.0.1 in a process of its own (its CPU is not counted) that the coordinator is allowed to fetch from, and
 * for each size interleaved pairs of jobs, one at a time, submit to completed: the latency of each kind and the
 * median of the pairs' differences, this process's CPU per job, and the bytes each kind moves through the
 * coordinator (in from the source, out to the payload store).
 *
 *   node --conditions=@tessera/source --import tsx bench/source-cost.ts [--pairs 20] [--json]
 */
import { spawn } from "node:child_process";
import { once } from "node:events";
import { parseArgs } from "node:util";
import { connectJetStreamBus, type PayloadStore } from "@tessera/bus";
import { createCoordinator, type SubmitInput } from "@tessera/coordinator";
import { startNatsServer, withOverrides } from "@tessera/testkit";
import { defineComponent, runWorker } from "@tessera/worker";
import { pino } from "pino";
import { median, round } from "./src/stats.js";

const { values } = parseArgs({
  options: { pairs: { type: "string", default: "20" }, json: { type: "boolean", default: false } },
});
const PAIRS = Number(values.pairs);
const SIZES = [16 * 1024, 1024 * 1024, 8 * 1024 * 1024];
const COMPONENT = "sink";

/** Counts what goes into the payload store, whatever the input's form. */
let stored = 0;
function counting(real: PayloadStore): PayloadStore {
  return {
    put: (jobId, data, opts) => {
      if (data instanceof Uint8Array) {
        stored += data.byteLength;
        return real.put(jobId, data, opts);
      }
      const counted = (async function* () {
        for await (const chunk of data) {
          stored += chunk.byteLength;
          yield chunk;
        }
      })();
      return real.put(jobId, counted, opts);
    },
    get: (ref, opts) => real.get(ref, opts),
    delete: (ref, opts) => real.delete(ref, opts),
  };
}

const documents = new Map(SIZES.map((size) => [size, new Uint8Array(size).fill(0x61)]));
// GET /<n> answers n bytes; it prints its port, then one line per body it sent (its byte count).
const SOURCE_SERVER = `
const body = (n) => Buffer.alloc(n, 0x61);
const server = require("node:http").createServer((req, res) => {
  const n = Number(req.url.slice(1));
  res.writeHead(200, { "content-type": "text/plain", "content-length": n }).end(body(n));
  process.stdout.write(n + "\\n");
});
server.listen(0, "127.0.0.1", () => process.stdout.write(server.address().port + "\\n"));`;
const source = spawn(process.execPath, ["-e", SOURCE_SERVER], { stdio: ["ignore", "pipe", "inherit"] });
let served = 0;
let port = 0;
let pending = "";
source.stdout.on("data", (chunk: Buffer) => {
  const lines = (pending + chunk.toString()).split("\n");
  pending = lines.pop() ?? "";
  for (const line of lines) {
    if (port === 0) port = Number(line);
    else served += Number(line);
  }
});
while (port === 0) await once(source.stdout, "data");

const nats = await startNatsServer();
const silent = pino({ level: "silent" });
const real = await connectJetStreamBus({ servers: nats.url, name: "source-cost-coordinator" });
const bus = withOverrides(real, { payloads: counting(real.payloads) });
const workerBus = await connectJetStreamBus({ servers: nats.url, name: "source-cost-worker" });
const coordinator = await createCoordinator({
  bus,
  components: [
    {
      name: COMPONENT,
      spec: { image: "bench/sink:1", inputMode: "source-locator", egress: "fetch-controlled", maxBytes: 16 << 20 },
    },
  ],
  database: { memory: true },
  env: { TESSERA_FETCH_ALLOW: JSON.stringify({ cidrs: ["127.0.0.1/32"], ports: [{ port }] }) },
  logger: silent,
});
const worker = await runWorker(
  defineComponent({ name: COMPONENT, handle: async (ctx) => ({ bytes: (await ctx.input.bytes()).byteLength }) }),
  { bus: workerBus, logger: silent },
);

interface Sample {
  ms: number;
  cpuMs: number;
  stored: number;
  served: number;
}

async function one(input: SubmitInput): Promise<Sample> {
  const [storedBefore, servedBefore, cpu, start] = [stored, served, process.cpuUsage(), performance.now()];
  const { jobId } = await coordinator.submit(COMPONENT, input);
  const job = await coordinator.waitForJob(jobId, { timeoutMs: 60_000 });
  const ms = performance.now() - start;
  if (job.state !== "completed") throw new Error(`job ${jobId} ended ${job.state}: ${job.reasonDetail}`);
  const used = process.cpuUsage(cpu);
  return { ms, cpuMs: (used.user + used.system) / 1000, stored: stored - storedBefore, served: served - servedBefore };
}

const rows = [];
for (const size of SIZES) {
  const bytes = documents.get(size) as Uint8Array;
  const kinds: Record<"contentRef" | "sourceLocator", Sample[]> = { contentRef: [], sourceLocator: [] };
  const run = {
    contentRef: () => one({ bytes }),
    sourceLocator: () => one({ source_locator: { source_url: `http://127.0.0.1:${port}/${size}` } }),
  };
  await run.contentRef(); // warm-up: connections, the bucket, JIT
  await run.sourceLocator();
  for (let i = 0; i < PAIRS; i++) {
    // Alternating which goes first, so neither always follows the other's garbage.
    const order = i % 2 === 0 ? (["contentRef", "sourceLocator"] as const) : (["sourceLocator", "contentRef"] as const);
    for (const kind of order) kinds[kind].push(await run[kind]());
  }
  const pairDifference = (of: (s: Sample) => number) =>
    round(median(kinds.sourceLocator.map((s, i) => of(s) - of(kinds.contentRef[i] as Sample))));
  const summary = (samples: Sample[]) => ({
    medianMs: round(median(samples.map((s) => s.ms))),
    cpuMsPerJob: round(median(samples.map((s) => s.cpuMs))),
    bytesFromSource: median(samples.map((s) => s.served)),
    bytesIntoPayloadStore: median(samples.map((s) => s.stored)),
  });
  const contentRef = summary(kinds.contentRef);
  const sourceLocator = summary(kinds.sourceLocator);
  rows.push({
    size,
    contentRef,
    sourceLocator,
    extraMs: pairDifference((s) => s.ms),
    extraCpuMs: pairDifference((s) => s.cpuMs),
  });
}

await worker.stop();
await coordinator.close();
await Promise.all([real.close(), workerBus.close()]);
await nats.stop();
source.kill();

if (values.json === true) process.stdout.write(`${JSON.stringify({ pairs: PAIRS, rows }, null, 2)}\n`);
else {
  process.stdout.write(
    `${PAIRS} interleaved pairs per size, one job at a time, medians (extra: of the pairs' differences)\n`,
  );
  process.stdout.write(
    "| size | content_ref ms | source_locator ms | extra ms | content_ref CPU ms | source_locator CPU ms | extra CPU ms | bytes in from source | bytes into payload store |\n|---|---|---|---|---|---|---|---|---|\n",
  );
  for (const r of rows)
    process.stdout.write(
      `| ${r.size} | ${r.contentRef.medianMs} | ${r.sourceLocator.medianMs} | ${r.extraMs} | ${r.contentRef.cpuMsPerJob} | ${r.sourceLocator.cpuMsPerJob} | ${r.extraCpuMs} | ${r.contentRef.bytesFromSource} / ${r.sourceLocator.bytesFromSource} | ${r.contentRef.bytesIntoPayloadStore} / ${r.sourceLocator.bytesIntoPayloadStore} |\n`,
    );
}
