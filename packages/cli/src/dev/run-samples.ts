import type { JobRecord } from "@tessera/coordinator";
import type { ProjectSample } from "../project/define-project.js";
import type { DevSession } from "./dev-session.js";

export interface SampleOutcome {
  label: string;
  /** The sample's own job first, then the jobs its completion chained (depth-first). */
  jobs: { job: JobRecord; depth: number }[];
  /** The sample's job ended as the sample expected. */
  asExpected: boolean;
}

export interface SamplesReport {
  outcomes: SampleOutcome[];
  /** Every job the run created, chained ones included. */
  jobCount: number;
  elapsedMs: number;
}

/**
 * Submits each sample `repeat` times, follows every job and the jobs its completion chains until all
 * are decided, and reports them. Keys are unique per run, so a persistent store runs the samples again
 * instead of answering with last run's jobs.
 */
export async function runSamples(
  session: DevSession,
  samples: readonly ProjectSample[],
  opts: { repeat?: number; timeoutMs?: number; onProgress?: (done: number, total: number) => void } = {},
): Promise<SamplesReport> {
  const repeat = opts.repeat ?? 1;
  const timeoutMs = opts.timeoutMs ?? 120_000;
  const run = Date.now().toString(36);
  const started = performance.now();
  let done = 0;
  let total = 0;
  const follow = async (jobId: string, depth: number): Promise<{ job: JobRecord; depth: number }[]> => {
    total += 1;
    const job = await session.coordinator.waitForJob(jobId, { timeoutMs });
    done += 1;
    opts.onProgress?.(done, total);
    // A completed job's hook ran before its Result was recorded, so its children are known by now.
    const nested = await Promise.all(session.children(jobId).map((child) => follow(child, depth + 1)));
    return [{ job, depth }, ...nested.flat()];
  };
  const outcomes = await Promise.all(
    Array.from({ length: repeat }, (_, r) => samples.map((s) => ({ sample: s, r })))
      .flat()
      .map(async ({ sample, r }) => {
        const { jobId } = await session.coordinator.submit(sample.component, sample.input, {
          idempotencyKey: `sample:${run}:${r}:${sample.label}`,
          ...(sample.metadata !== undefined ? { metadata: sample.metadata } : {}),
          ...(sample.contentType !== undefined ? { contentType: sample.contentType } : {}),
        });
        const jobs = await follow(jobId, 0);
        return { label: sample.label, jobs, asExpected: jobs[0]?.job.state === (sample.expect ?? "completed") };
      }),
  );
  return { outcomes, jobCount: total, elapsedMs: performance.now() - started };
}
