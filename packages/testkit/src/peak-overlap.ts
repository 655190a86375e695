/**
 * The most spans covering one instant (e.g. jobs of one key running at once); a span that ends when another
 * starts does not overlap it. For checking concurrency limits from logged start and end times.
 */
export function peakOverlap(spans: ReadonlyArray<{ start: number; end: number }>): number {
  const edges = spans
    .flatMap((s) => [
      { at: s.start, d: 1 },
      { at: s.end, d: -1 },
    ])
    .sort((a, b) => a.at - b.at || a.d - b.d);
  let now = 0;
  let peak = 0;
  for (const e of edges) peak = Math.max(peak, (now += e.d));
  return peak;
}
