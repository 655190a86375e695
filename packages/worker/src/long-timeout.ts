/** setTimeout's delay is a signed 32-bit millisecond count: anything longer fires at once. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Like setTimeout, but correct for delays beyond ~24.8 days (a job's wall_clock has no upper bound in the
 * contract), by re-arming in steps. Returns a function that cancels it.
 */
export function setLongTimeout(fn: () => void, delayMs: number): () => void {
  let timer: NodeJS.Timeout | undefined;
  const until = Date.now() + delayMs;
  const arm = (remaining: number): void => {
    timer = setTimeout(
      () => {
        const left = until - Date.now();
        if (remaining > MAX_TIMER_MS && left > 0) arm(left);
        else fn();
      },
      Math.max(0, Math.min(remaining, MAX_TIMER_MS)),
    );
  };
  arm(delayMs);
  return () => clearTimeout(timer);
}
