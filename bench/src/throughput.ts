export interface ThroughputResult {
  jobs: number;
  seconds: number;
  jobsPerSecond: number;
}

/** Times `work` (which must not return before all `jobs` are done) and reports the rate. */
export async function runMeasured(jobs: number, work: () => Promise<void>): Promise<ThroughputResult> {
  const started = performance.now();
  await work();
  const seconds = (performance.now() - started) / 1000;
  return { jobs, seconds: Math.round(seconds * 1000) / 1000, jobsPerSecond: Math.round(jobs / seconds) };
}
