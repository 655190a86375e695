/** Polls a health endpoint while something runs, to show that the process serving it kept answering. */
export interface HealthPoll {
  /** Resolves once `n` answers came, with how long after the poll began. */
  answers(n: number): Promise<{ duringMs: number }>;
  /** Stops polling; resolves with how many answered, the slowest answer, and what went wrong. */
  stop(): Promise<{ answered: number; maxMs: number; failures: string[] }>;
}

export function pollHealth(url: string, everyMs = 20): HealthPoll {
  const began = performance.now();
  let answered = 0;
  let maxMs = 0;
  const failures: string[] = [];
  const waiters: Array<{ n: number; resolve: (r: { duringMs: number }) => void }> = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      const started = performance.now();
      try {
        const res = await fetch(url, { signal: AbortSignal.timeout(5_000) });
        await res.arrayBuffer();
        if (res.status === 200) answered++;
        else failures.push(`status ${res.status}`);
      } catch (err) {
        failures.push(err instanceof Error ? err.message : String(err));
      }
      maxMs = Math.max(maxMs, performance.now() - started);
      for (const w of waiters.filter((x) => answered >= x.n)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve({ duringMs: Math.round(performance.now() - began) });
      }
      await new Promise((resolve) => setTimeout(resolve, everyMs));
    }
  })();
  return {
    answers: (n) =>
      answered >= n
        ? Promise.resolve({ duringMs: Math.round(performance.now() - began) })
        : new Promise((resolve) => waiters.push({ n, resolve })),
    async stop() {
      running = false;
      await loop;
      return { answered, maxMs: Math.round(maxMs), failures };
    },
  };
}
