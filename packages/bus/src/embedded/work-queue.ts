import type { ComponentBusSettings } from "@tessera/contract";
import type { ExhaustedDelivery, JobDelivery, PublishAck, QueueDepth, Subscription } from "../bus.js";
import { DedupWindow } from "./dedup-window.js";
import { Fifo } from "./fifo.js";
import type { TraceCarrier } from "../tracing/trace-context.js";

/**
 * Most publish ids a queue's duplicate window holds. JetStream bounds its window by time only, on the server;
 * here it is the process's memory (about 200 bytes an id): at 20,000 jobs/s two minutes would be 2.4 million.
 */
const DEDUP_MAX_ENTRIES = 100_000;

type MessageState = "pending" | "delayed" | "in-flight" | "exhausted";

interface StoredMessage {
  seq: number;
  data: Uint8Array;
  dedupKey: string | undefined;
  mayRepeat: boolean;
  traceHeaders: TraceCarrier | undefined;
  deliveries: number;
  publishedAt: number;
  state: MessageState;
  timer: NodeJS.Timeout | undefined;
}

interface QueueSubscriber {
  maxInFlight: number;
  inFlight: number;
  stopped: boolean;
  handler: (delivery: JobDelivery) => void | Promise<void>;
  onStopped: () => void;
}

/**
 * One component's work queue with JetStream's semantics: a WorkQueue stream with one durable, explicit-ack
 * consumer. Messages leave the queue when acked or termed; an unsettled delivery is redelivered after the
 * ack wait; after `maxDeliver` deliveries a message stays stored but is no longer delivered, and the
 * exhaustion is reported through `onExhausted`.
 */
export class WorkQueue {
  private settings: ComponentBusSettings;
  private readonly messages = new Map<number, StoredMessage>();
  private readonly ready = new Fifo<StoredMessage>();
  private readonly subscribers: QueueSubscriber[] = [];
  private dedup: DedupWindow<number>;
  private lastSeq = 0;
  private inFlight = 0;
  private nextSubscriber = 0;
  /** After close() no timer may be armed: settles from handlers still running are dropped. */
  private closed = false;

  constructor(
    settings: ComponentBusSettings,
    private readonly now: () => number,
    private readonly onExhausted: (event: ExhaustedDelivery) => void,
  ) {
    this.settings = settings;
    this.dedup = new DedupWindow(settings.duplicateWindowMs, now, DEDUP_MAX_ENTRIES);
  }

  get component(): string {
    return this.settings.name;
  }

  reconfigure(settings: ComponentBusSettings): void {
    if (settings.duplicateWindowMs !== this.settings.duplicateWindowMs)
      this.dedup = new DedupWindow(settings.duplicateWindowMs, this.now, DEDUP_MAX_ENTRIES);
    this.settings = settings;
  }

  publish(
    data: Uint8Array,
    dedupKey: string | undefined,
    mayRepeat = false,
    traceHeaders: TraceCarrier | undefined = undefined,
  ): PublishAck {
    if (dedupKey !== undefined) {
      const original = this.dedup.get(dedupKey);
      if (original !== undefined) return { seq: original, duplicate: true };
    }
    const seq = ++this.lastSeq;
    if (dedupKey !== undefined) this.dedup.set(dedupKey, seq);
    const msg: StoredMessage = {
      seq,
      data,
      dedupKey,
      mayRepeat,
      traceHeaders,
      deliveries: 0,
      publishedAt: this.now(),
      state: "pending",
      timer: undefined,
    };
    this.messages.set(seq, msg);
    this.ready.push(msg);
    this.dispatch();
    return { seq, duplicate: false };
  }

  subscribe(maxInFlight: number, handler: (delivery: JobDelivery) => void | Promise<void>): Subscription {
    let onStopped: () => void = () => undefined;
    const closed = new Promise<void>((r) => (onStopped = r));
    const sub: QueueSubscriber = { maxInFlight, inFlight: 0, stopped: false, handler, onStopped };
    this.subscribers.push(sub);
    queueMicrotask(() => this.dispatch());
    return { closed, stop: async () => this.unsubscribe(sub) };
  }

  depth(): QueueDepth {
    // As in JetStream, a job waiting out a nak delay is still ack-pending (KEDA keeps counting it).
    let pending = 0;
    for (const m of this.messages.values()) if (m.state === "pending") pending++;
    return { pending, ackPending: this.inFlight, total: pending + this.inFlight };
  }

  get(seq: number): StoredMessage | undefined {
    return this.messages.get(seq);
  }

  /** Every stored message (in whatever state), in publish order. */
  stored(): Array<Pick<StoredMessage, "seq" | "data" | "dedupKey">> {
    return [...this.messages.values()].sort((a, b) => a.seq - b.seq);
  }

  remove(seq: number): boolean {
    const msg = this.messages.get(seq);
    if (msg === undefined) return false;
    this.settleState(msg);
    this.messages.delete(seq);
    return true;
  }

  close(): void {
    this.closed = true;
    for (const m of this.messages.values()) if (m.timer !== undefined) clearTimeout(m.timer);
    for (const s of [...this.subscribers]) this.unsubscribe(s);
  }

  private unsubscribe(sub: QueueSubscriber): void {
    if (sub.stopped) return;
    sub.stopped = true;
    this.subscribers.splice(this.subscribers.indexOf(sub), 1);
    sub.onStopped();
  }

  private dispatch(): void {
    while (this.ready.length > 0) {
      const sub = this.pickSubscriber();
      if (sub === undefined) return;
      const msg = this.ready.shift() as StoredMessage;
      // Entries go stale when a message was removed or changed state after it was queued.
      if (msg.state !== "pending" || this.messages.get(msg.seq) !== msg) continue;
      this.deliver(sub, msg);
    }
  }

  private pickSubscriber(): QueueSubscriber | undefined {
    const n = this.subscribers.length;
    for (let i = 0; i < n; i++) {
      const sub = this.subscribers[(this.nextSubscriber + i) % n] as QueueSubscriber;
      if (sub.inFlight < sub.maxInFlight) {
        this.nextSubscriber = (this.nextSubscriber + i + 1) % n;
        return sub;
      }
    }
    return undefined;
  }

  private deliver(sub: QueueSubscriber, msg: StoredMessage): void {
    msg.deliveries++;
    msg.state = "in-flight";
    this.inFlight++;
    sub.inFlight++;
    const deliveryCount = msg.deliveries;
    this.armAckTimer(msg);
    let settled = false;
    // A delivery is current while the message is in flight under this delivery count; after an ack-wait
    // expiry the message belongs to its next delivery and this one's nak/working are ignored (as in JetStream).
    const current = (): boolean =>
      msg.state === "in-flight" && msg.deliveries === deliveryCount && this.messages.get(msg.seq) === msg;
    const settle = (action: () => void): void => {
      if (settled) return;
      settled = true;
      sub.inFlight--;
      action();
      this.dispatch();
    };
    const delivery: JobDelivery = {
      component: this.settings.name,
      data: msg.data,
      dedupKey: msg.dedupKey,
      deliveryCount,
      streamSeq: msg.seq,
      publishedAt: msg.publishedAt,
      ackWaitMs: this.settings.ackWaitMs,
      mayRepeat: msg.mayRepeat,
      ...(msg.traceHeaders !== undefined ? { traceHeaders: msg.traceHeaders } : {}),
      ack: () => settle(() => this.messages.get(msg.seq) === msg && this.remove(msg.seq)),
      term: () => settle(() => this.messages.get(msg.seq) === msg && this.remove(msg.seq)),
      nak: (delayMs?: number) => settle(() => current() && this.retry(msg, delayMs ?? 0)),
      working: () => {
        if (!settled && current()) this.armAckTimer(msg);
      },
    };
    void (async () => {
      try {
        await sub.handler(delivery);
      } catch {
        delivery.nak();
      }
    })();
  }

  private armAckTimer(msg: StoredMessage): void {
    if (this.closed) return;
    if (msg.timer !== undefined) clearTimeout(msg.timer);
    msg.timer = setTimeout(() => {
      msg.timer = undefined;
      if (msg.state === "in-flight") this.retry(msg, 0);
    }, this.settings.ackWaitMs);
  }

  /**
   * The message comes back for another delivery after `delayMs`, or is exhausted if it has had all of them.
   * Like JetStream, a nak'd message stays ack-pending through its delay, and exhaustion is decided when the
   * redelivery would happen.
   */
  private retry(msg: StoredMessage, delayMs: number): void {
    if (this.closed) return;
    this.settleState(msg);
    if (delayMs > 0) {
      msg.state = "delayed";
      this.inFlight++;
      msg.timer = setTimeout(() => this.redeliver(msg), delayMs);
      return;
    }
    this.redeliver(msg);
  }

  private redeliver(msg: StoredMessage): void {
    this.settleState(msg);
    if (msg.deliveries >= this.settings.maxDeliver) {
      msg.state = "exhausted";
      this.onExhausted({
        component: this.settings.name,
        streamSeq: msg.seq,
        deliveries: msg.deliveries,
        data: msg.data,
        dedupKey: msg.dedupKey,
      });
      return;
    }
    msg.state = "pending";
    this.ready.push(msg);
    this.dispatch();
  }

  /** Leaves the in-flight/delayed state: clears its timer and the ack-pending count. */
  private settleState(msg: StoredMessage): void {
    if (msg.timer !== undefined) clearTimeout(msg.timer);
    msg.timer = undefined;
    if (msg.state === "in-flight" || msg.state === "delayed") this.inFlight--;
    msg.state = "pending";
  }
}
