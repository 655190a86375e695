import { randomUUID } from "node:crypto";
import { createInProcessBus, type Bus } from "@tessera/bus";
import { ComponentDefaults, type Job, type Result } from "@tessera/contract";
import { pino } from "pino";
import { runWorker } from "@tessera/worker";
import { wordCount } from "./word-count.js";

export interface ExampleDocument {
  name: string;
  text: string;
  /** Send the text by reference through the payload store instead of inline. */
  byReference?: boolean;
}

export const SAMPLE_DOCUMENTS: ExampleDocument[] = [
  { name: "hello.txt", text: "Hello from Tessera, the same contract in every mode." },
  { name: "flaky.txt", text: "[flaky] This one fails once and is retried with backoff." },
  { name: "large.txt", text: "lorem ipsum dolor sit amet ".repeat(20_000), byReference: true },
  { name: "empty.txt", text: "   " },
];

export interface ExampleOutcome {
  document: string;
  jobId: string;
  result: Result;
}

/**
 * Runs the word-count component on the in-process bus: provisions it, starts a worker, submits the
 * documents (large ones by reference), and collects one Result per job.
 */
export async function runExample(
  documents: ExampleDocument[] = SAMPLE_DOCUMENTS,
  bus: Bus = createInProcessBus(),
): Promise<ExampleOutcome[]> {
  await bus.ensureComponent({
    name: wordCount.name,
    ackWaitMs: 5_000,
    maxDeliver: 3,
    duplicateWindowMs: ComponentDefaults.duplicateWindowMs,
  });
  // The flaky document's first failure is expected here; show only errors.
  const worker = await runWorker(wordCount, { bus, logger: pino({ level: process.env["LOG_LEVEL"] ?? "error" }) });
  const names = new Map<string, string>();
  const results = new Map<string, Result>();
  let allDone: () => void = () => undefined;
  const done = new Promise<void>((resolve) => (allDone = resolve));
  const sub = await bus.consumeResults((event) => {
    if (event.kind !== "result" || !names.has(event.result.job_id)) return;
    results.set(event.result.job_id, event.result);
    if (results.size === documents.length) allDone();
  });
  try {
    for (const doc of documents) {
      const jobId = randomUUID();
      names.set(jobId, doc.name);
      const bytes = new TextEncoder().encode(doc.text);
      const input: Job["input"] =
        doc.byReference === true ? { content_ref: await bus.payloads.put(jobId, bytes) } : { inline: doc.text };
      await bus.publishJob({
        schema_version: 1,
        job_id: jobId,
        component: wordCount.name,
        content_type: "text/plain",
        limits: { max_bytes: 4 * 1024 * 1024, wall_clock: 10_000 },
        input,
        submitted_at: new Date().toISOString(),
      });
    }
    await done;
  } finally {
    await sub.stop();
    await worker.stop();
    await bus.close();
  }
  return [...names].map(([jobId, document]) => ({ document, jobId, result: results.get(jobId) as Result }));
}
