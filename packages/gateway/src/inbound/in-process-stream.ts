import type { JetStreamPublishOptions, PubAck } from "@nats-io/jetstream";
import type { GatewayStreamHealth } from "@tessera/client/schemas";
import { decodeMessage, gatewayStreamName, type Message } from "@tessera/contract";
import { GATEWAY_STREAM_DEFAULTS } from "../streams.js";
import type { InboundPublisher } from "./server.js";

/*
 * `tessera dev`'s stand-in for the inbound JetStream stream (decision 0042), so the embedded gateway keeps the
 * inbound server's promises without a nats-server: a publish is acknowledged once the message is held, and a
 * message id seen inside the duplicate window is acknowledged as a duplicate and stored once. What it cannot
 * keep is durability — it holds messages in this process's memory — so the guard rails refuse it outside
 * local ("gateway_inbound_stream"). Subscribers (the coordinator's tail, the inbound consumer) get each stored
 * message once, in order.
 */

export interface InProcessInboundStreamOptions {
  /** Default: the JetStream stream's (24 h). */
  duplicateWindowMs?: number;
  /** Messages held for `messages()` and the figures; the oldest go first. Default 1,000. */
  maxMessages?: number;
  /** Message ids remembered for the duplicate window at most; past it the oldest are forgotten. Default 100,000. */
  maxIds?: number;
  now?: () => number;
}

interface Held {
  seq: number;
  bytes: number;
  at: number;
  message: Message;
}

export class InProcessInboundStream implements InboundPublisher {
  readonly mode = "in-process" as const;
  private readonly windowMs: number;
  private readonly maxMessages: number;
  private readonly maxIds: number;
  private readonly now: () => number;
  /** Message id → when it leaves the window. Insertion order is expiry order (the window is constant). */
  private readonly seen = new Map<string, { expires: number; seq: number }>();
  private readonly held: Held[] = [];
  private readonly listeners = new Set<(message: Message) => void>();
  private lastSeq = 0;
  private bytes = 0;

  constructor(options: InProcessInboundStreamOptions = {}) {
    this.windowMs = options.duplicateWindowMs ?? GATEWAY_STREAM_DEFAULTS.duplicateWindowMs;
    this.maxMessages = options.maxMessages ?? 1_000;
    this.maxIds = options.maxIds ?? 100_000;
    this.now = options.now ?? Date.now;
  }

  async publish(
    _subject: string,
    payload?: Uint8Array | string,
    options?: Partial<JetStreamPublishOptions>,
  ): Promise<PubAck> {
    const data = typeof payload === "string" ? new TextEncoder().encode(payload) : (payload ?? new Uint8Array());
    const decoded = decodeMessage(data);
    if (!decoded.ok) throw new Error(`not a Message: ${decoded.error.message}`);
    const now = this.now();
    this.forgetExpired(now);
    const msgId = options?.msgID;
    const earlier = msgId === undefined ? undefined : this.seen.get(msgId);
    if (earlier !== undefined) return this.ack(earlier.seq, true);
    const seq = ++this.lastSeq;
    if (msgId !== undefined) {
      this.seen.set(msgId, { expires: now + this.windowMs, seq });
      if (this.seen.size > this.maxIds) this.seen.delete(this.seen.keys().next().value as string);
    }
    this.held.push({ seq, bytes: data.byteLength, at: now, message: decoded.value });
    this.bytes += data.byteLength;
    while (this.held.length > this.maxMessages) this.bytes -= this.held.shift()!.bytes;
    for (const listener of this.listeners) listener(decoded.value);
    return this.ack(seq, false);
  }

  onMessage(listener: (message: Message) => void): () => void {
    this.listeners.add(listener);
    return () => void this.listeners.delete(listener);
  }

  /** The messages held, oldest first. */
  messages(): Message[] {
    return this.held.map((h) => h.message);
  }

  async streams(): Promise<GatewayStreamHealth[]> {
    const last = this.held.at(-1);
    return [
      {
        name: gatewayStreamName("inbound"),
        present: true,
        messages: this.held.length,
        bytes: this.bytes,
        firstSeq: this.held[0]?.seq ?? this.lastSeq + 1,
        lastSeq: this.lastSeq,
        lastAt: last === undefined ? null : new Date(last.at).toISOString(),
        consumers: this.listeners.size,
        duplicateWindowMs: this.windowMs,
      },
    ];
  }

  private forgetExpired(now: number): void {
    for (const [id, { expires }] of this.seen) {
      if (expires > now) break;
      this.seen.delete(id);
    }
  }

  private ack(seq: number, duplicate: boolean): PubAck {
    return { stream: gatewayStreamName("inbound"), seq, duplicate, domain: "" } as PubAck;
  }
}
