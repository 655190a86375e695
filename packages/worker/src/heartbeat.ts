import type { Bus } from "@tessera/bus";
import { SCHEMA_VERSION, type Heartbeat } from "@tessera/contract";
import type { Logger } from "pino";

/**
 * Publishes a heartbeat now and then every `intervalMs` until stopped. Fire-and-forget: a beat that cannot
 * be sent is logged (once per failure streak, so a long outage does not flood the log) and never fatal.
 */
export function startHeartbeats(opts: {
  bus: Bus;
  log: Logger;
  intervalMs: number;
  beat: () => Omit<Heartbeat, "schema_version" | "sent_at" | "interval_ms">;
}): { stop(): void } {
  let failing = false;
  const send = (): void => {
    let heartbeat: Heartbeat;
    try {
      heartbeat = {
        schema_version: SCHEMA_VERSION,
        ...opts.beat(),
        sent_at: new Date().toISOString(),
        interval_ms: opts.intervalMs,
      };
    } catch (err) {
      opts.log.warn({ err }, "could not build a heartbeat");
      return;
    }
    Promise.resolve()
      .then(() => opts.bus.publishHeartbeat(heartbeat))
      .then(
        () => {
          if (failing) opts.log.info("heartbeats are being sent again");
          failing = false;
        },
        (err: unknown) => {
          if (!failing) opts.log.warn({ err }, "heartbeat not sent (will keep trying)");
          failing = true;
        },
      );
  };
  send();
  const timer = setInterval(send, opts.intervalMs);
  return { stop: () => clearInterval(timer) };
}
