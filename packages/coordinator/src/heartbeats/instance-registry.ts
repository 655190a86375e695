import { HEARTBEAT_INTERVAL_MS, HEARTBEAT_STALE_AFTER_BEATS, type Heartbeat } from "@tessera/contract";
import type { InstanceInfo } from "../types.js";

interface Seen {
  heartbeat: Heartbeat;
  receivedAt: number;
}

/**
 * Who is alive, from heartbeats. An instance that missed three beats is stale (listed, not healthy);
 * one silent for ten intervals past that is forgotten. Time is the coordinator's receive time, so a
 * worker's clock cannot make itself look alive.
 */
export class InstanceRegistry {
  private readonly byComponent = new Map<string, Map<string, Seen>>();

  constructor(private readonly intervalMs: number = HEARTBEAT_INTERVAL_MS) {}

  record(heartbeat: Heartbeat, now: number): void {
    let instances = this.byComponent.get(heartbeat.component);
    if (instances === undefined) {
      instances = new Map();
      this.byComponent.set(heartbeat.component, instances);
    }
    instances.set(heartbeat.instance_id, { heartbeat, receivedAt: now });
  }

  instances(component: string, now: number): InstanceInfo[] {
    const instances = this.byComponent.get(component);
    if (instances === undefined) return [];
    const staleAfter = this.intervalMs * HEARTBEAT_STALE_AFTER_BEATS;
    const forgetAfter = staleAfter + this.intervalMs * 10;
    const out: InstanceInfo[] = [];
    for (const [id, seen] of instances) {
      const silentFor = now - seen.receivedAt;
      if (silentFor > forgetAfter) {
        instances.delete(id);
        continue;
      }
      out.push({
        instanceId: id,
        version: seen.heartbeat.version,
        inFlight: seen.heartbeat.in_flight,
        lastHeartbeatAt: new Date(seen.receivedAt).toISOString(),
        stale: silentFor > staleAfter,
      });
    }
    return out.sort((a, b) => a.instanceId.localeCompare(b.instanceId));
  }

  /** Components that sent heartbeats, declared or not. */
  components(): string[] {
    return [...this.byComponent.keys()];
  }
}

export function componentSummary(healthy: number): { state: "declared" | "running"; summary: string } {
  if (healthy === 0) return { state: "declared", summary: "declared, no healthy instance" };
  return { state: "running", summary: `${healthy} healthy instance${healthy === 1 ? "" : "s"}` };
}
