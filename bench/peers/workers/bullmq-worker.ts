/**
 * The BullMQ peer's worker process: a BullMQ `Worker` running up to CONCURRENCY jobs at once (Tessera's
 * worker runs 256), whose processor reads its input and returns a small output, like
 * bench/workers/noop-worker.ts. BullMQ stores the return value and emits `completed` in the same step.
 * Prints one `{"event":"ready"}` line once connected.
 *
 * Env: REDIS_PORT, QUEUE, CONCURRENCY.
 */
import { Worker } from "bullmq";
import { env } from "../src/env.js";

const worker = new Worker<{ text: string }, { bytes: number }>(
  env("QUEUE"),
  async (job) => ({ bytes: Buffer.byteLength(job.data.text) }),
  {
    connection: { host: "127.0.0.1", port: Number(env("REDIS_PORT")), maxRetriesPerRequest: null },
    concurrency: Number(env("CONCURRENCY")),
  },
);
worker.on("error", (err) => process.stderr.write(`bullmq worker: ${err.message}\n`));
await worker.waitUntilReady();
process.stdout.write(`${JSON.stringify({ event: "ready" })}\n`);
