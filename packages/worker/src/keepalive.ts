import type { JobDelivery } from "@tessera/bus";

/**
 * Tells the bus, every third of the ack wait, that each running delivery is still alive. One interval for
 * all of them rather than one per job: a worker with hundreds of jobs in flight would otherwise arm and
 * clear an interval per job. A delivery added just after a tick is first kept alive one period later,
 * as its own interval would have done; one added just before is kept alive early, which is harmless.
 */
export class Keepalive {
  private readonly deliveries = new Set<Pick<JobDelivery, "working" | "ackWaitMs">>();
  private timer: NodeJS.Timeout | undefined;
  private periodMs = Number.POSITIVE_INFINITY;

  /** `minPeriodMs`: the shortest period, whatever the ack wait: working() is cheap but not free. */
  constructor(private readonly minPeriodMs: number) {}

  add(delivery: Pick<JobDelivery, "working" | "ackWaitMs">): void {
    this.deliveries.add(delivery);
    const period = Math.max(this.minPeriodMs, Math.floor(delivery.ackWaitMs / 3));
    if (this.timer === undefined || period < this.periodMs) this.arm(period);
  }

  delete(delivery: Pick<JobDelivery, "working" | "ackWaitMs">): void {
    this.deliveries.delete(delivery);
  }

  private arm(periodMs: number): void {
    clearInterval(this.timer);
    this.periodMs = periodMs;
    // Left running across short idle gaps (a busy worker empties and refills its set all the time); the
    // first tick that finds nothing to keep alive stops it. Unref'd: a running job's own timeout timer
    // keeps the process up, and a stopped worker must not wait for one more tick to exit.
    this.timer = setInterval(() => {
      if (this.deliveries.size === 0) {
        clearInterval(this.timer);
        this.timer = undefined;
        return;
      }
      for (const d of this.deliveries) d.working();
    }, periodMs).unref();
  }
}
