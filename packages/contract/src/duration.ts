/** Durations in specs are written like Kubernetes/Go durations: "500ms", "30s", "5m", "1h30m". */
export const DURATION_PATTERN = "^([0-9]+(ms|s|m|h))+$";
const PART = /([0-9]+)(ms|s|m|h)/g;
const UNIT_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 } as const;

export function parseDuration(text: string): number {
  if (!new RegExp(DURATION_PATTERN).test(text)) {
    throw new TypeError(`expected a duration such as "30s", "5m" or "1h30m", got ${JSON.stringify(text)}`);
  }
  let total = 0;
  for (const m of text.matchAll(PART)) total += Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS];
  return total;
}
