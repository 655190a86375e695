import { readFileSync, writeFileSync } from "node:fs";

/** What a host did while it was watched. */
export interface HostFigures {
  healthz: {
    /** `GET /healthz` sent one after another. */
    requests: number;
    /** Answers that were not 200, or never came. */
    failed: number;
    /** The slowest answer, as this process timed it. */
    maxMs: number;
    /**
     * Of each answer's time, the part the host's event-loop thread spent running (Linux schedstat), at most
     * the answer's time; the slowest of those. This is what the host itself took: on a loaded machine
     * `maxMs` is mostly the time the host and this prober waited for a CPU (an idle host's slowest answer
     * was 200-800 ms at a load average of 20 on two cores), while a blocked event loop runs all along.
     */
    maxOwnMs: number;
  };
  /** Peak resident set of the host process while watched (VmHWM after resetting it; else the sampled peak). */
  peakRssBytes: number;
  /** The host process was gone when the watch stopped. */
  exited: boolean;
}

export interface HostWatch {
  stop(): Promise<HostFigures>;
}

const statusField = (pid: number, field: string): number | undefined => {
  try {
    const kib = new RegExp(`^${field}:\\s+(\\d+) kB$`, "m").exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1];
    return kib === undefined ? undefined : Number(kib) * 1024;
  } catch {
    return undefined; // gone
  }
};

/** Milliseconds a thread has spent running on a CPU (the first field of its schedstat); undefined if unknown. */
const ranMs = (schedstat: string): number | undefined => {
  try {
    const ns = Number(readFileSync(schedstat, "utf8").split(" ")[0]);
    return Number.isFinite(ns) ? ns / 1e6 : undefined;
  } catch {
    return undefined;
  }
};

/**
 * Watches a host process from outside it (the caller must be another process, or its own event loop
 * would be what is measured): sends `GET /healthz` to `baseUrl` back to back, `everyMs` apart, timing each
 * answer and how long the host's event loop ran meanwhile, and follows the process's peak RSS on Linux
 * (/proc). Writing 5 to /proc/<pid>/clear_refs resets the kernel's peak (VmHWM) so the figure is this
 * watch's, not the process's start-up.
 */
export function watchHost(baseUrl: string, pid: number, everyMs = 10): HostWatch {
  let resetPeak = true;
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, "5");
  } catch {
    resetPeak = false;
  }
  // The host's main thread runs its event loop; its thread id is the process id.
  const loopThread = `/proc/${pid}/task/${pid}/schedstat`;
  const figures: HostFigures = {
    healthz: { requests: 0, failed: 0, maxMs: 0, maxOwnMs: 0 },
    peakRssBytes: 0,
    exited: false,
  };
  let stopped = false;
  const healthz = new URL("/healthz", baseUrl);
  const probing = (async () => {
    while (!stopped) {
      const ranBefore = ranMs(loopThread);
      const sent = performance.now();
      try {
        const res = await fetch(healthz, { signal: AbortSignal.timeout(60_000) });
        await res.arrayBuffer();
        if (res.status !== 200) figures.healthz.failed++;
      } catch {
        figures.healthz.failed++;
      }
      const took = performance.now() - sent;
      const ranAfter = ranMs(loopThread);
      // Without schedstat (not Linux), all of the answer's time counts as the host's.
      const ran = ranBefore === undefined || ranAfter === undefined ? took : Math.min(took, ranAfter - ranBefore);
      figures.healthz.requests++;
      figures.healthz.maxMs = Math.max(figures.healthz.maxMs, took);
      figures.healthz.maxOwnMs = Math.max(figures.healthz.maxOwnMs, ran);
      figures.peakRssBytes = Math.max(figures.peakRssBytes, statusField(pid, "VmRSS") ?? 0);
      await new Promise((resolve) => setTimeout(resolve, everyMs));
    }
  })();
  return {
    async stop() {
      stopped = true;
      await probing;
      const peak = resetPeak ? statusField(pid, "VmHWM") : undefined;
      figures.exited = peak === undefined && statusField(pid, "VmRSS") === undefined;
      if (peak !== undefined) figures.peakRssBytes = Math.max(figures.peakRssBytes, peak);
      return figures;
    },
  };
}
