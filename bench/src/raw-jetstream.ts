import { AckPolicy, jetstream, jetstreamManager, RetentionPolicy, StorageType } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import type { BenchEnv } from "./bench-env.js";
import { payloadOf } from "./payloads.js";
import { windowed } from "./windowed.js";
import { runMeasured, type ThroughputResult } from "./throughput.js";

const JOBS_STREAM = "BENCH_RAW_JOBS";
const RESULTS_STREAM = "BENCH_RAW_RESULTS";
/** Publishes awaiting their ack at once: enough to keep the server busy, few enough to bound memory. */
const PUBLISH_WINDOW = 512;

/**
 * What Tessera does per job, hand-written on nats.js: publish a job to a file-backed work-queue stream,
 * a consumer in another process acks it (and, with `withResult`, first publishes a result to a second
 * stream), and the producer consumes the results. `withResult: false` is raw job-only JetStream.
 */
export async function rawJetStream(
  env: BenchEnv,
  opts: { jobs: number; payloadBytes: number; withResult: boolean },
): Promise<ThroughputResult> {
  const nc = await connect({ servers: env.natsUrl, name: "bench-raw-producer" });
  try {
    await provision(nc);
    const js = jetstream(nc);
    const run = `${Date.now()}`;
    const doneSubject = `bench.done.${run}`;
    let handled = 0;
    let resultsConsumed = 0;
    const target = opts.jobs;
    const done = nc.subscribe(doneSubject, { callback: (_err, m) => void (handled += Number(m.string())) });
    const worker = env.spawnWorker("workers/raw-consumer.ts", {
      STREAM: JOBS_STREAM,
      CONSUMER: "worker",
      MODE: opts.withResult ? "with-result" : "job-only",
      RESULT_SUBJECT: `bench.results.${run}`,
      DONE_SUBJECT: doneSubject,
    });
    try {
      await worker.line("the raw consumer to be ready", (l) => l["event"] === "ready", 20_000);
      await nc.flush();
      const results = opts.withResult
        ? await (await js.consumers.get(RESULTS_STREAM, "producer")).consume({ max_messages: 1_000 })
        : undefined;
      const resultsLoop = (async () => {
        if (results === undefined) return;
        for await (const m of results) {
          m.ack();
          resultsConsumed += 1;
        }
      })();
      const payload = payloadOf(opts.payloadBytes);
      const measured = await runMeasured(opts.jobs, async () => {
        await windowed(opts.jobs, PUBLISH_WINDOW, () => js.publish("bench.jobs", payload));
        await env.waitUntil("the raw loop to finish", () =>
          opts.withResult ? resultsConsumed >= target : handled >= target,
        );
      });
      await results?.close();
      await resultsLoop;
      return measured;
    } finally {
      done.unsubscribe();
      await worker.kill();
    }
  } finally {
    await nc.close();
  }
}

async function provision(nc: NatsConnection): Promise<void> {
  const jsm = await jetstreamManager(nc);
  for (const name of [JOBS_STREAM, RESULTS_STREAM]) await jsm.streams.delete(name).catch(() => false);
  await jsm.streams.add({
    name: JOBS_STREAM,
    subjects: ["bench.jobs"],
    retention: RetentionPolicy.Workqueue,
    storage: StorageType.File,
  });
  await jsm.streams.add({
    name: RESULTS_STREAM,
    subjects: ["bench.results.>"],
    retention: RetentionPolicy.Workqueue,
    storage: StorageType.File,
  });
  await jsm.consumers.add(JOBS_STREAM, {
    durable_name: "worker",
    ack_policy: AckPolicy.Explicit,
    max_ack_pending: 10_000,
  });
  await jsm.consumers.add(RESULTS_STREAM, {
    durable_name: "producer",
    ack_policy: AckPolicy.Explicit,
    max_ack_pending: 10_000,
  });
}
