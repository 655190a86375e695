/** Starts `count` operations, at most `window` unfinished at once, and waits for all of them. */
export async function windowed(count: number, window: number, start: (i: number) => Promise<unknown>): Promise<void> {
  const inFlight = new Set<Promise<unknown>>();
  for (let i = 0; i < count; i++) {
    const p: Promise<unknown> = start(i).finally(() => inFlight.delete(p));
    inFlight.add(p);
    if (inFlight.size >= window) await Promise.race(inFlight);
  }
  await Promise.all(inFlight);
}

/** `count` items in chunks of `size` (the last may be smaller), at most `window` chunks unfinished at once. */
export function windowedChunks(
  count: number,
  size: number,
  window: number,
  start: (length: number) => Promise<unknown>,
): Promise<void> {
  return windowed(Math.ceil(count / size), window, (c) => start(Math.min(size, count - c * size)));
}
