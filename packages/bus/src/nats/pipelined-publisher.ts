import { JetStreamApiError, type ApiError } from "@nats-io/jetstream";
import {
  createInbox,
  headers,
  NoRespondersError,
  TimeoutError,
  type Msg,
  type NatsConnection,
  type Subscription,
} from "@nats-io/transport-node";

export interface StoredAck {
  stream: string;
  seq: number;
  duplicate: boolean;
}

interface Waiting {
  subject: string;
  deadline: number;
  resolve: (ack: StoredAck) => void;
  reject: (err: unknown) => void;
}

type Queued =
  | {
      subject: string;
      data: Uint8Array;
      msgId: string | undefined;
      extra: Readonly<Record<string, string>> | undefined;
      token: string;
    }
  | { send: () => void };

const utf8 = new TextDecoder();
const DEFAULT_TIMEOUT_MS = 5_000;
const SWEEP_EVERY_MS = 250;

/**
 * JetStream publishes, pipelined. A JetStream publish is a request: the stream answers the reply subject
 * with its ack. The client's `js.publish` makes each one a full request (its own reply route, timer and
 * two pre-built Error objects with stack traces), which at thousands of publishes a second costs more
 * than the publish. Here every publish of the connection shares one reply subscription (a token per
 * publish), one timer sweeps the deadlines, and publishes made in one event-loop turn go out together in
 * one socket write, with the message acks handed to `later`. The outcomes are the client's: the stored sequence and the duplicate flag, a
 * JetStreamApiError for a refusal, NoRespondersError when no stream captures the subject, TimeoutError.
 */
export class PipelinedPublisher {
  private readonly prefix: string;
  private readonly sub: Subscription;
  private readonly waiting = new Map<string, Waiting>();
  private queue: Queued[] = [];
  private next = 0;
  private flushScheduled = false;
  private sweeper: NodeJS.Timeout | undefined;

  constructor(
    private readonly nc: NatsConnection,
    private readonly timeoutMs = DEFAULT_TIMEOUT_MS,
  ) {
    this.prefix = createInbox();
    this.sub = nc.subscribe(`${this.prefix}.*`, { callback: (err, msg) => void (err === null && this.onReply(msg)) });
  }

  publish(
    subject: string,
    data: Uint8Array,
    msgId?: string,
    extra?: Readonly<Record<string, string>>,
  ): Promise<StoredAck> {
    const token = (this.next++).toString(36);
    return new Promise<StoredAck>((resolve, reject) => {
      this.waiting.set(token, { subject, deadline: Date.now() + this.timeoutMs, resolve, reject });
      this.enqueue({ subject, data, msgId, extra, token });
      this.sweeper ??= setInterval(() => this.sweep(), SWEEP_EVERY_MS);
    });
  }

  /**
   * Runs `send` (a core publish such as a message ack) with the next batch, so it shares that batch's
   * socket write. Its errors are the caller's to catch.
   */
  later(send: () => void): void {
    this.enqueue({ send });
  }

  private enqueue(item: Queued): void {
    this.queue.push(item);
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => this.flush());
    }
  }

  /** Fails what is still waiting (the connection is closing). */
  close(): void {
    if (!this.sub.isClosed()) this.sub.unsubscribe();
    this.failAll(new Error("the connection closed before JetStream acknowledged the publish"));
  }

  private flush(): void {
    this.flushScheduled = false;
    const batch = this.queue;
    this.queue = [];
    // Synchronous, so the client puts the whole batch in one write.
    for (const q of batch) {
      if ("send" in q) {
        q.send();
        continue;
      }
      try {
        const h = q.msgId === undefined && q.extra === undefined ? undefined : headers();
        if (q.msgId !== undefined) h?.set("Nats-Msg-Id", q.msgId);
        for (const [name, value] of Object.entries(q.extra ?? {})) h?.set(name, value);
        this.nc.publish(q.subject, q.data, {
          reply: `${this.prefix}.${q.token}`,
          ...(h !== undefined ? { headers: h } : {}),
        });
      } catch (err) {
        this.settle(q.token, (w) => w.reject(err));
      }
    }
  }

  private onReply(msg: Msg): void {
    const token = msg.subject.slice(this.prefix.length + 1);
    this.settle(token, (w) => {
      if (msg.data.length === 0 && msg.headers?.code === 503) return w.reject(new NoRespondersError(w.subject));
      let body: { stream?: string; seq?: number; duplicate?: boolean; error?: ApiError };
      try {
        body = JSON.parse(utf8.decode(msg.data)) as typeof body;
      } catch (err) {
        return w.reject(
          new Error(`JetStream answered a publish to ${w.subject} with something that is not JSON`, { cause: err }),
        );
      }
      if (body.error !== undefined) return w.reject(new JetStreamApiError(body.error));
      if (typeof body.stream !== "string" || body.stream === "" || typeof body.seq !== "number")
        return w.reject(new Error(`JetStream answered a publish to ${w.subject} with an invalid ack`));
      w.resolve({ stream: body.stream, seq: body.seq, duplicate: body.duplicate === true });
    });
  }

  private settle(token: string, fn: (w: Waiting) => void): void {
    const w = this.waiting.get(token);
    if (w === undefined) return;
    this.waiting.delete(token);
    fn(w);
    this.idle();
  }

  private sweep(): void {
    const now = Date.now();
    const expired = [...this.waiting].filter(([, w]) => w.deadline <= now).map(([token]) => token);
    if (expired.length === 0) return;
    // Timers run before the event loop reads its sockets: after a long busy stretch (a big synchronous
    // database call) acks may be waiting unread. Rejected after this turn's I/O, so those are read first.
    setImmediate(() => {
      for (const token of expired) this.settle(token, (w) => w.reject(new TimeoutError()));
    });
  }

  private idle(): void {
    if (this.waiting.size === 0 && this.sweeper !== undefined) {
      clearInterval(this.sweeper);
      this.sweeper = undefined;
    }
  }

  private failAll(err: Error): void {
    for (const token of [...this.waiting.keys()]) this.settle(token, (w) => w.reject(err));
  }
}
