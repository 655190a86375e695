import type { Consumer, JsMsg } from "@nats-io/jetstream";
import type { JobDelivery } from "../bus.js";
import { PullLoop } from "./pull-loop.js";
import { traceHeadersFrom, type TraceCarrier } from "../tracing/trace-context.js";

/** Set on a job published with `mayRepeat` (a header, so the envelope stays as the contract says). */
export const MAY_REPEAT_HEADER = "Tessera-May-Repeat";

/** The trace headers of a stored message (none are read when nothing traces: see traceHeadersFrom). */
export function traceHeadersOf(m: Pick<JsMsg, "headers">): TraceCarrier | undefined {
  const h = m.headers;
  return h === undefined ? undefined : traceHeadersFrom((name) => h.get(name) || undefined);
}

/**
 * One delivery handed to a job handler. Settles at most once; later calls are ignored. Its slot in the
 * subscription is freed when it settles (not when its ack wait runs out: the handler may still be running,
 * and maxInFlight bounds running handlers).
 */
class NatsJobDelivery implements JobDelivery {
  readonly data: Uint8Array;
  readonly dedupKey: string | undefined;
  readonly deliveryCount: number;
  readonly streamSeq: number;
  readonly publishedAt: number;
  readonly mayRepeat: boolean;
  readonly traceHeaders: TraceCarrier | undefined;
  private settled = false;

  constructor(
    readonly component: string,
    private readonly m: JsMsg,
    readonly ackWaitMs: number,
    private readonly release: () => void,
    private readonly send: (fn: () => void) => void,
  ) {
    this.data = m.data;
    this.dedupKey = m.headers?.get("Nats-Msg-Id") || undefined;
    this.deliveryCount = m.info.deliveryCount;
    this.streamSeq = m.seq;
    // The stream's timestamp of the stored message (the delivery's metadata, in nanoseconds).
    this.publishedAt = Math.floor(m.info.timestampNanos / 1e6);
    this.mayRepeat = m.headers?.get(MAY_REPEAT_HEADER) === "1";
    this.traceHeaders = traceHeadersOf(m);
  }

  ack(): void {
    if (this.settle()) this.safely(() => this.m.ack());
  }

  nak(delayMs?: number): void {
    if (!this.settle()) return;
    const delay = delayMs !== undefined && Number.isFinite(delayMs) && delayMs > 0 ? Math.round(delayMs) : 0;
    this.safely(() => (delay > 0 ? this.m.nak(delay) : this.m.nak()));
  }

  term(): void {
    // Never pass a reason: nats-server 2.9 only matches the exact "+TERM" and ignores anything longer.
    if (this.settle()) this.safely(() => this.m.term());
  }

  working(): void {
    if (this.settled) return;
    this.safely(() => this.m.working());
  }

  private settle(): boolean {
    if (this.settled) return false;
    this.settled = true;
    this.release();
    return true;
  }

  /** Sent with the connection's next batch of publishes (one socket write for many). */
  private safely(fn: () => void): void {
    this.send(() => {
      try {
        fn();
      } catch {
        // The connection is closed: the server redelivers after the ack wait, which is at-least-once anyway.
      }
    });
  }
}

export function startJobLoop(opts: {
  component: string;
  consumer: Consumer;
  ackWaitMs: number;
  maxInFlight: number;
  handler: (delivery: JobDelivery) => void | Promise<void>;
  /** How a settle (ack, nak, term) is sent; default at once. */
  send?: (fn: () => void) => void;
  onError?: (err: unknown) => void;
}): PullLoop {
  const send = opts.send ?? ((fn: () => void) => fn());
  return new PullLoop({
    consumer: opts.consumer,
    maxInFlight: opts.maxInFlight,
    ...(opts.onError !== undefined ? { onError: opts.onError } : {}),
    deliver: (m, release) => {
      const d = new NatsJobDelivery(opts.component, m, opts.ackWaitMs, release, send);
      // Each delivery runs in its own task; a throw (sync or async) is a nak with no delay.
      void Promise.resolve()
        .then(() => opts.handler(d))
        .catch(() => d.nak());
    },
  }).start();
}

/**
 * Durable consumers of the coordinator: the handler's promise acks, a throw naks with a short delay. A
 * handler still running keeps its message alive with working() every third of the ack wait: one timer
 * for the whole loop rather than one per message, which at thousands of Results a second would cost more
 * than the Results.
 */
export function startAckingLoop(opts: {
  consumer: Consumer;
  maxInFlight: number;
  ackWaitMs: number;
  handle: (m: JsMsg) => void | Promise<void>;
  nakDelayMs?: number;
  onError?: (err: unknown) => void;
}): PullLoop {
  const keepAliveMs = Math.max(100, Math.floor(opts.ackWaitMs / 3));
  const running = new Map<JsMsg, number>();
  let keepAlive: NodeJS.Timeout | undefined;
  const touch = (): void => {
    const due = Date.now() - keepAliveMs;
    for (const [m, since] of running) {
      if (since > due) continue;
      running.set(m, Date.now());
      try {
        m.working();
      } catch {
        // connection closed: the message is redelivered after the ack wait
      }
    }
  };
  return new PullLoop({
    consumer: opts.consumer,
    maxInFlight: opts.maxInFlight,
    ...(opts.onError !== undefined ? { onError: opts.onError } : {}),
    deliver: (m, release) => {
      running.set(m, Date.now());
      if (keepAlive === undefined) {
        keepAlive = setInterval(touch, Math.max(50, Math.floor(keepAliveMs / 4)));
        keepAlive.unref();
      }
      void Promise.resolve()
        .then(() => opts.handle(m))
        .then(
          () => m.ack(),
          () => m.nak(opts.nakDelayMs ?? 250),
        )
        .catch(() => undefined)
        .finally(() => {
          running.delete(m);
          if (running.size === 0 && keepAlive !== undefined) {
            clearInterval(keepAlive);
            keepAlive = undefined;
          }
          release();
        });
    },
  }).start();
}
