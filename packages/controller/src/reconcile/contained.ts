/**
 * True when everything `desired` says is already in `live`: each field of a desired object is present in
 * the live object with a contained value, and desired lists match live lists element by element. What the
 * API server adds (defaults, status, metadata it manages, fields other managers own such as KEDA's
 * `spec.replicas`) does not count. The controller skips its write when this holds, so a steady state
 * costs no writes. Two things the API server changes in what it stores are accounted for: it drops empty
 * strings, maps and lists (omitempty), and it writes resource quantities in canonical form ("1000m" → "1").
 */
export function isContained(desired: unknown, live: unknown, key = ""): boolean {
  if (desired === live) return true;
  if (live === undefined && isEmpty(desired)) return true;
  if (Array.isArray(desired)) {
    return (
      Array.isArray(live) && desired.length === live.length && desired.every((d, i) => isContained(d, live[i], key))
    );
  }
  if (typeof desired === "object" && desired !== null) {
    if (typeof live !== "object" || live === null || Array.isArray(live)) return false;
    const liveObject = live as Record<string, unknown>;
    return Object.entries(desired as Record<string, unknown>).every(
      ([k, value]) => value === undefined || isContained(value, liveObject[k], k),
    );
  }
  if (typeof desired === "string" && typeof live === "string" && QUANTITY_PARENTS.has(key))
    return sameQuantity(desired, live);
  return false;
}

/** Keys whose string values (or whose map values) are resource quantities. */
const QUANTITY_PARENTS = new Set(["cpu", "memory", "ephemeral-storage", "sizeLimit"]);

function isEmpty(value: unknown): boolean {
  if (value === "") return true;
  if (Array.isArray(value)) return value.length === 0;
  return typeof value === "object" && value !== null && Object.keys(value).length === 0;
}

const SUFFIX: Readonly<Record<string, number>> = {
  "": 1,
  m: 1e-3,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};

function quantityValue(text: string): number | undefined {
  const match = /^([0-9]+(?:\.[0-9]+)?)(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$/.exec(text);
  if (match === null) return undefined;
  return Number(match[1]) * (SUFFIX[match[2] ?? ""] as number);
}

function sameQuantity(a: string, b: string): boolean {
  const x = quantityValue(a);
  const y = quantityValue(b);
  return x !== undefined && y !== undefined && Math.abs(x - y) <= Math.max(Math.abs(x), Math.abs(y)) * 1e-12;
}
