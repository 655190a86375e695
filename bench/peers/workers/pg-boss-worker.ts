/**
 * The pg-boss peer's worker process: `work()` with LOCAL_CONCURRENCY polling workers, each fetching up to
 * BATCH_SIZE jobs at a time (the configuration: 4 × 1,000), fetching again at once while batches
 * come back full. The handler reads each job's input and settles it with its own small output
 * (`perJobResults`: one statement completes the whole batch). Prints one `{"event":"ready"}` line.
 *
 * Env: DATABASE_URL, QUEUE, LOCAL_CONCURRENCY, BATCH_SIZE.
 */
import { PgBoss, type JobResult } from "pg-boss";
import { env } from "../src/env.js";

const boss = new PgBoss(env("DATABASE_URL"));
boss.on("error", (err: Error) => process.stderr.write(`pg-boss worker: ${err.message}\n`));
await boss.start();
await boss.work<{ text: string }>(
  env("QUEUE"),
  {
    localConcurrency: Number(env("LOCAL_CONCURRENCY")),
    batchSize: Number(env("BATCH_SIZE")),
    burstWhenBatchFull: true,
    pollingIntervalSeconds: 0.5,
    perJobResults: true,
  },
  async (jobs): Promise<JobResult[]> =>
    jobs.map((job) => ({ id: job.id, status: "completed", output: { bytes: Buffer.byteLength(job.data.text) } })),
);
process.stdout.write(`${JSON.stringify({ event: "ready" })}\n`);
