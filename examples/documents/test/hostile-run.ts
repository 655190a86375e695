import { AdminClient, type JobRecord } from "@tessera/client";
import { sleep, waitFor, type DevProcess } from "@tessera/testkit";
import { loadSamples } from "../src/samples.js";
import type { HostileDocument } from "./fixtures/hostile.js";
import { watchHost, type HostFigures } from "./host-watch.js";

export interface HostileRun {
  /** The extract job as decided; undefined when it was not decided within the wait (or the host died). */
  job: JobRecord | undefined;
  /** From the submit to the job decided, as the submitter saw it. */
  elapsedMs: number;
  host: HostFigures;
}

const DECIDED = new Set(["completed", "failed", "cancelled"]);

/**
 * Has a fresh host run the admin API's submit path (its first submit costs the host's thread tens of
 * milliseconds of one-off work, 85 ms on a busy machine) and, with `parsers`, both of extract's parser
 * threads load each parser (a sample of each format twice at once): what a document then costs is its
 * own, not a cold start's (pdf.js alone took seconds to load on a busy machine).
 */
export async function warmHost(dev: DevProcess, { parsers = true } = {}): Promise<void> {
  const client = new AdminClient(dev.dashboardUrl);
  const samples = loadSamples(new URL("../samples/", import.meta.url));
  const rounds = parsers
    ? ["welcome.txt", "invoice.pdf", "quarterly-report.docx", "release-notes.html"]
    : ["welcome.txt"];
  for (const label of rounds) {
    const sample = samples.find((s) => s.label === label);
    if (sample === undefined) throw new Error(`samples/${label} is missing`);
    const input = { base64: Buffer.from(sample.bytes).toString("base64") };
    const jobs = await Promise.all(
      [1, 2].map(() => client.submit({ component: "extract", input, contentType: sample.contentType })),
    );
    for (const { jobId } of jobs)
      await waitFor(`warm-up job ${jobId}`, async () => DECIDED.has((await client.job(jobId)).state), 120_000);
  }
}

/**
 * Submits `doc` to `tessera dev examples/documents` (`dev`) and watches the host from this process until
 * the extract job is decided, then `tailMs` longer (a completed job chains chunk-embed).
 */
export async function runHostile(
  dev: DevProcess,
  doc: HostileDocument,
  { waitMs = 60_000, tailMs = 250 } = {},
): Promise<HostileRun> {
  const client = new AdminClient(dev.dashboardUrl);
  const pid = dev.process.proc.pid;
  if (pid === undefined) throw new Error("tessera dev has no pid");
  const input = { base64: Buffer.from(doc.bytes()).toString("base64") };
  const watch = watchHost(dev.dashboardUrl, pid);
  const submitted = performance.now();
  let job: JobRecord | undefined;
  try {
    const { jobId } = await client.submit({
      component: "extract",
      input,
      contentType: doc.contentType,
      limits: { wallClockMs: doc.wallClockMs },
    });
    job = await waitFor(
      `extract job ${jobId} to be decided`,
      async () => {
        if (dev.process.proc.exitCode !== null || dev.process.proc.signalCode !== null)
          throw new Error("tessera dev exited");
        // A host too busy to answer within the client's timeout is still a host to wait for.
        const record = await client.job(jobId).catch(() => undefined);
        return record !== undefined && DECIDED.has(record.state) && record;
      },
      waitMs,
    );
  } catch {
    // Not decided in time, or the host is gone: the figures say which.
  }
  const elapsedMs = performance.now() - submitted;
  await sleep(tailMs);
  return { job, elapsedMs, host: await watch.stop() };
}
