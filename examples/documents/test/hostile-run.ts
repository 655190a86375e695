import { AdminClient, type JobRecord } from "@tessera/client";
import { sleep, waitFor, type DevProcess } from "@tessera/testkit";
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
