import { Queue, QueueEvents } from "bullmq";
import { assertRunning, type BenchEnv } from "../../src/bench-env.js";
import { openLoopLatency, type LatencyResult } from "../../src/open-loop.js";
import { textPayload } from "../../src/payloads.js";
import { WORKER_CONCURRENCY } from "../../src/tessera-modes.js";
import { runMeasured, type ThroughputResult } from "../../src/throughput.js";
import { windowedChunks } from "../../src/windowed.js";
import type { RedisServer } from "./redis-server.js";

/** Jobs per `addBulk` call, and calls awaiting Redis at once. */
const ADD_BULK_CHUNK = 500;
const ADD_BULKS_IN_FLIGHT = 2;
/**
 * A completed job is removed from Redis as it completes (`removeOnComplete: true`): BullMQ's advice for
 * production is to remove completed jobs so memory stays bounded, and removing them all is its cheapest
 * way (keeping the last 1,000 cost a fifth to a quarter more Redis CPU per job here). Its return value still reaches
 * the producer, in the `completed` event. Failed jobs are kept (BullMQ's default), as Tessera keeps them.
 */
const REMOVE_ON_COMPLETE = true;
/**
 * The events stream's length, past which BullMQ trims it. The default (10,000) holds the events of about
 * 2,500 jobs (added, waiting, active, completed): a producer that fell that far behind while adding a burst
 * would never see the trimmed `completed` events, and the run would hang. A producer that relies on
 * QueueEvents for every completion needs the margin; it costs Redis memory, not time.
 */
const EVENTS_MAX_LEN = 200_000;

let queues = 0;

interface Observed {
  /** performance.now() at which the producer saw each job's `completed` event. */
  at: Map<string, number>;
  /** Throws once a job failed, or the worker process exited. */
  check(): void;
}

/**
 * A fresh queue on `redis`, a QueueEvents listener (the producer's view of completions: BullMQ's
 * `completed` event, which carries the return value, as a Tessera coordinator receives each Result) and
 * one worker process.
 */
async function withQueue<T>(
  env: BenchEnv,
  redis: RedisServer,
  run: (queue: Queue, observed: Observed) => Promise<T>,
): Promise<T> {
  const name = `bench-${process.pid}-${++queues}`;
  const connection = { host: "127.0.0.1", port: redis.port, maxRetriesPerRequest: null };
  const queue = new Queue(name, {
    connection,
    streams: { events: { maxLen: EVENTS_MAX_LEN } },
    defaultJobOptions: { removeOnComplete: REMOVE_ON_COMPLETE },
  });
  const events = new QueueEvents(name, { connection });
  const at = new Map<string, number>();
  const failed: string[] = [];
  events.on("completed", ({ jobId }) => void at.set(jobId, performance.now()));
  events.on("failed", ({ jobId, failedReason }) => void failed.push(`${jobId}: ${failedReason}`));
  const worker = env.spawnWorker("peers/workers/bullmq-worker.ts", {
    REDIS_PORT: String(redis.port),
    QUEUE: name,
    CONCURRENCY: String(WORKER_CONCURRENCY),
  });
  const check = (): void => {
    if (failed.length > 0)
      throw new Error(`${failed.length} BullMQ jobs failed, e.g. ${failed.slice(0, 3).join("; ")}`);
    assertRunning(worker, "the BullMQ worker");
  };
  try {
    await Promise.all([
      queue.waitUntilReady(),
      events.waitUntilReady(),
      worker.line("the BullMQ worker to be ready", (l) => l["event"] === "ready", 30_000),
    ]);
    return await run(queue, { at, check });
  } finally {
    await worker.kill();
    await events.close();
    await queue.obliterate({ force: true }).catch(() => undefined);
    await queue.close();
  }
}

/** `jobs` jobs added with `addBulk`, timed until the producer has seen every one's `completed` event. */
export function bullmqThroughput(env: BenchEnv, redis: RedisServer, jobs: number): Promise<ThroughputResult> {
  return withQueue(env, redis, async (queue, observed) => {
    const data = { text: textPayload(256) };
    return runMeasured(jobs, async () => {
      await windowedChunks(jobs, ADD_BULK_CHUNK, ADD_BULKS_IN_FLIGHT, (length) =>
        queue.addBulk(Array.from({ length }, () => ({ name: "noop", data }))),
      );
      await env.waitUntil(`${jobs} BullMQ jobs to complete`, () => {
        observed.check();
        return observed.at.size >= jobs;
      });
    });
  });
}

/** `openLoopLatency` for BullMQ: from `queue.add` to the producer seeing the job's `completed` event. */
export function bullmqLatencyAtRate(
  env: BenchEnv,
  redis: RedisServer,
  rate: number,
  seconds: number,
): Promise<LatencyResult> {
  return withQueue(env, redis, async (queue, observed) => {
    const data = { text: textPayload(256) };
    const add = (): Promise<string> => queue.add("noop", data).then((job) => job.id ?? "");
    return openLoopLatency(env, "BullMQ jobs", rate, seconds, add, observed.at, observed.check);
  });
}
