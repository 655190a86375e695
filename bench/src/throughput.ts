import { cpuByRole, cpuPerJob, type CpuByRole } from "./process-cpu.js";

export interface ThroughputResult {
  jobs: number;
  seconds: number;
  jobsPerSecond: number;
  /** CPU microseconds per job by process role, over the measured run (Linux). */
  cpuUsPerJob?: CpuByRole;
}

/** Times `work` (which must not return before all `jobs` are done) and reports the rate and the CPU it cost. */
export async function runMeasured(jobs: number, work: () => Promise<void>): Promise<ThroughputResult> {
  const cpuBefore = cpuByRole();
  const started = performance.now();
  await work();
  const seconds = (performance.now() - started) / 1000;
  const cpu = cpuPerJob(cpuBefore, cpuByRole(), jobs);
  return {
    jobs,
    seconds: Math.round(seconds * 1000) / 1000,
    jobsPerSecond: Math.round(jobs / seconds),
    ...(cpu !== undefined ? { cpuUsPerJob: cpu } : {}),
  };
}
