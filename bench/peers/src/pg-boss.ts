import { PgBoss } from "pg-boss";
import { assertRunning, type BenchEnv } from "../../src/bench-env.js";
import { textPayload } from "../../src/payloads.js";
import { runMeasured, type ThroughputResult } from "../../src/throughput.js";
import { windowedChunks } from "../../src/windowed.js";

/** Jobs per `insert` call (one statement), and calls awaiting Postgres at once. */
const INSERT_CHUNK = 1_000;
const INSERTS_IN_FLIGHT = 2;
/** The configuration: 4 polling workers in the worker process, each fetching up to 1,000 jobs. */
const LOCAL_CONCURRENCY = 4;
const BATCH_SIZE = 1_000;

/**
 * pg-boss has no completion event for a producer (completion jobs went in pg-boss 10), and its queue counts
 * are a cache refreshed by its monitor, so the producer reads the job table itself: how many of the queue's
 * jobs are still open (created, retry, active) and how many failed, through pg-boss's partial index on
 * those states. The query's cost grows with the open jobs, so it runs less often while many are open
 * (every `open / 200` ms, between 10 and 250 ms); near the end it runs every 10 ms.
 */
const OPEN_AND_FAILED = `SELECT count(*) FILTER (WHERE state < 'completed') AS open, count(*) FILTER (WHERE state = 'failed') AS failed
  FROM pgboss.job WHERE name = $1 AND state IN ('created', 'retry', 'active', 'failed')`;
const pollDelayMs = (open: number): number => Math.min(250, Math.max(10, open / 200));

let queues = 0;

/**
 * `jobs` jobs sent with `insert` to a fresh queue in a fresh database on the bench's Postgres, run by one
 * worker process, timed until the producer reads that none is open. Completed jobs stay in the table
 * (pg-boss's default keeps them 7 days), as Tessera keeps every job's row.
 */
export async function pgBossThroughput(env: BenchEnv, jobs: number): Promise<ThroughputResult> {
  const url = await env.postgresDatabase();
  const boss = new PgBoss(url);
  const errors: string[] = [];
  boss.on("error", (err: Error) => void errors.push(err.message));
  await boss.start();
  const queue = `bench-${process.pid}-${++queues}`;
  const worker = env.spawnWorker("peers/workers/pg-boss-worker.ts", {
    DATABASE_URL: url,
    QUEUE: queue,
    LOCAL_CONCURRENCY: String(LOCAL_CONCURRENCY),
    BATCH_SIZE: String(BATCH_SIZE),
  });
  try {
    await boss.createQueue(queue);
    await worker.line("the pg-boss worker to be ready", (l) => l["event"] === "ready", 30_000);
    const db = boss.getDb();
    const data = { text: textPayload(256) };
    const result = await runMeasured(jobs, async () => {
      await windowedChunks(jobs, INSERT_CHUNK, INSERTS_IN_FLIGHT, (length) =>
        boss.insert(
          queue,
          Array.from({ length }, () => ({ data })),
        ),
      );
      let open = jobs;
      let polling = false;
      let next = 0;
      let pollError: Error | undefined;
      const poll = (): void => {
        polling = true;
        db.executeSql(OPEN_AND_FAILED, [queue]).then(
          ({ rows }) => {
            const row = rows[0] as { open: string; failed: string };
            if (Number(row.failed) > 0) pollError = new Error(`${row.failed} pg-boss jobs failed`);
            open = Number(row.open);
            next = performance.now() + pollDelayMs(open);
            polling = false;
          },
          (err: unknown) => void (pollError = err instanceof Error ? err : new Error(String(err))),
        );
      };
      await env.waitUntil(`${jobs} pg-boss jobs to complete`, () => {
        if (pollError !== undefined) throw pollError;
        if (errors.length > 0) throw new Error(`pg-boss: ${errors[0]}`);
        assertRunning(worker, "the pg-boss worker");
        if (open === 0) return true;
        if (!polling && performance.now() >= next) poll();
        return false;
      });
    });
    // Outside the clock: none open is not yet all completed (a lost insert would look the same).
    const { rows } = await db.executeSql(
      `SELECT count(*) AS completed FROM pgboss.job WHERE name = $1 AND state = 'completed'`,
      [queue],
    );
    const completed = Number((rows[0] as { completed: string }).completed);
    if (completed !== jobs) throw new Error(`pg-boss completed ${completed} of ${jobs} jobs`);
    return result;
  } finally {
    await worker.kill();
    await boss.stop({ graceful: false, close: true });
  }
}
