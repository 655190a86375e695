import type { Bus, JobDelivery } from "@tessera/bus";

/**
 * The bus, with some of its methods replaced: for fixtures that hold, fail or observe one call (a publish
 * that never settles, a process that dies right after a publish) and leave everything else real.
 */
export function withOverrides(bus: Bus, overrides: Partial<Record<keyof Bus, unknown>>): Bus {
  return new Proxy(bus, {
    get(target, prop) {
      if (Object.prototype.hasOwnProperty.call(overrides, prop)) return overrides[prop as keyof Bus];
      const value: unknown = Reflect.get(target, prop);
      return typeof value === "function" ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}

export interface SettleEvent {
  action: "ack" | "nak" | "term";
  streamSeq: number;
  deliveryCount: number;
  delayMs?: number;
}

/**
 * Wraps a bus so every delivery's ack/nak/term is recorded (and `working` calls counted) before being
 * forwarded. `dropAcks` swallows the first N acks, as if they were lost on the way to the server.
 */
export function spyingBus(
  bus: Bus,
  opts: { dropAcks?: number } = {},
): { bus: Bus; settles: SettleEvent[]; workingCalls: () => number } {
  const settles: SettleEvent[] = [];
  let working = 0;
  let acksToDrop = opts.dropAcks ?? 0;
  const wrap = (d: JobDelivery): JobDelivery => ({
    component: d.component,
    data: d.data,
    dedupKey: d.dedupKey,
    deliveryCount: d.deliveryCount,
    streamSeq: d.streamSeq,
    publishedAt: d.publishedAt,
    ackWaitMs: d.ackWaitMs,
    ack: () => {
      settles.push({ action: "ack", streamSeq: d.streamSeq, deliveryCount: d.deliveryCount });
      if (acksToDrop > 0) acksToDrop--;
      else d.ack();
    },
    nak: (delayMs?: number) => {
      settles.push({
        action: "nak",
        streamSeq: d.streamSeq,
        deliveryCount: d.deliveryCount,
        ...(delayMs !== undefined ? { delayMs } : {}),
      });
      d.nak(delayMs);
    },
    term: () => {
      settles.push({ action: "term", streamSeq: d.streamSeq, deliveryCount: d.deliveryCount });
      d.term();
    },
    working: () => {
      working++;
      d.working();
    },
  });
  const spied = withOverrides(bus, {
    consumeJobs: (
      component: string,
      o: Parameters<Bus["consumeJobs"]>[1],
      handler: Parameters<Bus["consumeJobs"]>[2],
    ) => bus.consumeJobs(component, o, (d) => handler(wrap(d))),
  });
  return { bus: spied, settles, workingCalls: () => working };
}
