/**
 * True when everything `desired` says is already in `live`: each field of a desired object is present in
 * the live object with a contained value, and desired lists match live lists element by element. What the
 * API server adds (defaults, status, metadata it manages, fields other managers own such as KEDA's
 * `spec.replicas`) does not count. The controller skips its write when this holds, so a steady state
 * costs no writes.
 */
export function isContained(desired: unknown, live: unknown): boolean {
  if (desired === live) return true;
  if (Array.isArray(desired)) {
    return Array.isArray(live) && desired.length === live.length && desired.every((d, i) => isContained(d, live[i]));
  }
  if (typeof desired === "object" && desired !== null) {
    if (typeof live !== "object" || live === null || Array.isArray(live)) return false;
    const liveObject = live as Record<string, unknown>;
    return Object.entries(desired as Record<string, unknown>).every(([key, value]) => value === undefined || isContained(value, liveObject[key]));
  }
  // The API server returns numbers it was sent as numbers and strings as strings; nothing to normalize.
  return false;
}
