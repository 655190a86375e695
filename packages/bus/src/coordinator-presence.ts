import type { CoordinatorPresence } from "./bus.js";

/** How long a probe waits for the coordinators on the bus to answer. */
export const COORDINATOR_PROBE_WAIT_MS = 250;

/** A probe's answer, or undefined when it is not one (another program on the subject). */
export function parsePresence(data: Uint8Array): CoordinatorPresence | undefined {
  try {
    const value = JSON.parse(new TextDecoder().decode(data)) as Partial<CoordinatorPresence>;
    if (typeof value.id !== "string" || typeof value.shareable !== "boolean" || typeof value.store !== "string")
      return undefined;
    return { id: value.id, shareable: value.shareable, store: value.store };
  } catch {
    return undefined;
  }
}
