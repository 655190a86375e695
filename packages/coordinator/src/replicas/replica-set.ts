import type { Logger } from "pino";
import type { Listener, SqlClient } from "../sql/sql-client.js";
import { SETTINGS_CHANNEL } from "../settings/sql-settings-store.js";
import type { JobEvent } from "../types.js";
import type { ReplicaStore } from "./replica-store.js";

/** Where the job-change trigger announces state changes (migration 3). */
export const JOB_EVENTS_CHANNEL = "tessera_job_events";
/** How often a coordinator renews its presence and its lease. */
export const RENEW_INTERVAL_MS = 1_000;
/** How long a presence or a lease outlives its last renewal: a SIGKILLed coordinator's claims free up after this. */
export const PRESENCE_TTL_MS = 5_000;
/** The lease of the work that runs on one coordinator at a time. */
export const MAINTENANCE_LEASE = "maintenance";
const SWEEP_INTERVAL_MS = 5_000;

/** A job event heard from another coordinator, with whether its job has a limit key. */
export interface RemoteJobEvent extends JobEvent {
  limited: boolean;
}

export interface ReplicaSetOptions {
  id: string;
  store: ReplicaStore;
  sql: SqlClient;
  log: Logger;
  /** State changes other coordinators wrote. */
  onJobEvents(events: RemoteJobEvent[]): void;
  /** A setting another coordinator wrote to the database. */
  onSetting(name: string): void;
  /** The listening connection was (re)made: whatever was announced meanwhile was missed. */
  onResync(): void;
}

/**
 * This coordinator as one of several on a shared SQL database: it keeps its presence row alive (its outbox
 * claims are live while it is), holds the maintenance lease when nobody else does (retention and the slot
 * sweep run on its holder only, and move to another coordinator within PRESENCE_TTL_MS of its death), and
 * listens for the job changes and settings the others write.
 */
export class ReplicaSet {
  private timer: NodeJS.Timeout | undefined;
  private listener: Listener | undefined;
  private leader = false;
  private lastSweep = 0;
  private renewing: Promise<void> | undefined;
  private stopped = false;

  constructor(private readonly opts: ReplicaSetOptions) {}

  get id(): string {
    return this.opts.id;
  }

  /** Holds the maintenance lease (as of its last renewal). */
  get isLeader(): boolean {
    return this.leader && !this.stopped;
  }

  /** Registers this coordinator's presence (before it claims anything) and starts listening. */
  async start(): Promise<void> {
    await this.opts.store.renewPresence(this.opts.id, PRESENCE_TTL_MS);
    if (this.opts.sql.listen !== undefined && this.opts.sql.origin !== undefined) {
      this.listener = await this.opts.sql.listen([JOB_EVENTS_CHANNEL, SETTINGS_CHANNEL], {
        onNotification: (channel, payload) => this.heard(channel, payload),
        onConnected: () => this.opts.onResync(),
        onError: (err) => this.opts.log.warn({ err }, "the connection listening to other coordinators dropped"),
      });
    }
    await this.renew();
    this.timer = setInterval(() => {
      this.renewing ??= this.renew().finally(() => (this.renewing = undefined));
    }, RENEW_INTERVAL_MS);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.renewing;
    await this.listener?.stop();
    await this.opts.store.retire(this.opts.id).catch((err: unknown) => {
      this.opts.log.warn({ err }, "could not retire this coordinator's presence; its claims free up when it lapses");
    });
  }

  private async renew(): Promise<void> {
    const { store, id, log } = this.opts;
    try {
      await store.renewPresence(id, PRESENCE_TTL_MS);
      const leading = await store.holdLease(MAINTENANCE_LEASE, id, PRESENCE_TTL_MS);
      if (leading !== this.leader)
        log.info({ coordinator: id }, leading ? "took the maintenance lease" : "lost the maintenance lease");
      this.leader = leading;
      if (leading && Date.now() - this.lastSweep >= SWEEP_INTERVAL_MS) {
        this.lastSweep = Date.now();
        const freed = await store.sweep();
        if (freed > 0) log.warn({ freed }, "freed limit slots whose jobs were already decided");
      }
    } catch (err) {
      // Not renewed: others may take this coordinator's claims once its presence lapses, which only costs
      // republishes the bus deduplicates. Leading without a renewed lease could run work twice, so stop.
      this.leader = false;
      log.warn({ err }, "could not renew this coordinator's presence");
    }
  }

  private heard(channel: string, payload: string): void {
    if (channel === SETTINGS_CHANNEL) {
      this.opts.onSetting(payload);
      return;
    }
    let parsed: { o: string; e: Array<[string, string, JobEvent["state"], string | null, string, boolean]> };
    try {
      parsed = JSON.parse(payload) as typeof parsed;
    } catch (err) {
      this.opts.log.warn({ err }, "ignored a job-change notification that is not JSON");
      return;
    }
    if (parsed.o === this.opts.sql.origin || !Array.isArray(parsed.e)) return;
    this.opts.onJobEvents(
      parsed.e.map(([jobId, component, state, reasonCode, at, limited]) => ({
        jobId,
        component,
        state,
        reasonCode,
        at: new Date(at).toISOString(),
        limited,
      })),
    );
  }
}
