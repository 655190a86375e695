import type { Bus, CoordinatorMembership } from "@tessera/bus";
import type { Logger } from "pino";
import { SharedLimiter, type DispatchLimiter } from "../dispatch/dispatch-limiter.js";
import { CoordinatorError } from "../errors.js";
import type { JobEvents } from "../events/job-events.js";
import type { Settings } from "../settings/settings.js";
import type { SettingsStore } from "../settings/settings-store.js";
import type { SqlClient } from "../sql/sql-client.js";
import { TERMINAL_STATES } from "../types.js";
import type { ReplicaSetOptions } from "./replica-set.js";

/**
 * Joins the coordinators on the bus, and refuses to run beside another when either one's store cannot be
 * shared: two coordinators with stores of their own on one bus would each miss the other's jobs (Results
 * for jobs they do not hold, limits counted twice) without either noticing.
 */
export async function joinCoordinatorsOnBus(
  bus: Bus,
  id: string,
  sql: SqlClient | undefined,
): Promise<CoordinatorMembership> {
  const shareable = sql?.dialect === "postgres";
  const store = sql === undefined ? "the memory store" : sql.dialect === "postgres" ? "Postgres" : "PGlite";
  const membership = await bus.joinCoordinators({ id, shareable, store });
  const other = membership.peers.find((p) => !p.shareable) ?? (shareable ? undefined : membership.peers[0]);
  if (other === undefined) return membership;
  await membership.leave();
  const which = other.shareable ? `this coordinator's store (${store})` : `its store (${other.store})`;
  throw new CoordinatorError(
    "conflict",
    `another coordinator (${other.id}, on ${other.store}) is running on this bus, and ${which} cannot be shared ` +
      "between coordinators. Run every replica on one Postgres (DATABASE_URL), or stop the other coordinator.",
  );
}

/** What a coordinator does with what the other replicas tell it. */
export function replicaHooks(parts: {
  limiter: DispatchLimiter;
  events: JobEvents;
  settings: Settings;
  settingsStore: SettingsStore;
  log: Logger;
  /** The relay should look at the outbox and the limits again. */
  wakeRelay(): void;
}): Pick<ReplicaSetOptions, "onJobEvents" | "onSetting" | "onResync"> {
  const { limiter, events, settings, settingsStore, log, wakeRelay } = parts;
  // A setting another coordinator wrote: read again from the database, so every replica stamps the same config.
  const reloadSetting = async (name: string): Promise<void> => {
    try {
      await settings.reload(name, await settingsStore.readSettings());
    } catch (err) {
      log.warn({ err, setting: name }, "could not reload a setting another coordinator changed");
    }
  };
  return {
    // State changes other coordinators wrote: waiters and listeners here hear of them as of local ones.
    onJobEvents(remote) {
      let freed = false;
      for (const e of remote) {
        if (e.limited && TERMINAL_STATES.includes(e.state)) {
          limiter.released(e.jobId, e.component);
          freed = true;
        }
        events.publish(
          { jobId: e.jobId, component: e.component, state: e.state, reasonCode: e.reasonCode, at: e.at },
          "elsewhere",
        );
      }
      // A slot freed elsewhere, or a job submitted or redriven elsewhere whose coordinator may be gone.
      if (freed) wakeRelay();
    },
    onSetting: (name) => void reloadSetting(name),
    // Notifications may have been missed while the listening connection was down: settings are read again,
    // waiters look at their jobs, and the relay reads the outbox and the limits afresh.
    onResync() {
      void reloadSetting("*");
      if (limiter instanceof SharedLimiter) limiter.forget();
      events.recheckAll();
      wakeRelay();
    },
  };
}
