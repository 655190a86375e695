import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager, type JsMsg } from "@nats-io/jetstream";
import { nanos, type NatsConnection } from "@nats-io/transport-node";
import {
  decodeMessage,
  gatewayDurableName,
  gatewayStreamName,
  gatewaySubjectFilter,
  type GatewayDurableRole,
  type Message,
} from "@tessera/contract";
import { jitterDelay } from "../outbound/routing.js";

/*
 * Reads the inbound stream for one role (the coordinator's recorder, an archive, …) through a durable shared by
 * all of that role's replicas: each Message goes to one of them, is acknowledged once its handler resolves, and
 * comes back (with backoff) when the handler throws. Delivery is at least once, so the handler must be
 * idempotent on `message.id` — which is the second idempotency layer: the id is derived from (channel, scope,
 * source id), so a platform's retry after the stream's duplicate window arrives with the same id, and a handler
 * that records it under a unique key (the coordinator's `submit` with `idempotencyKey: message.id`) makes it one.
 */

export type InboundConsumerEvent =
  | { type: "handled"; message: Message; attempt: number }
  | { type: "retry"; messageId: string; attempt: number; delayMs: number; error: unknown }
  | { type: "skipped"; detail: string };

export interface InboundConsumerOptions {
  nats: NatsConnection;
  role?: Extract<GatewayDurableRole, "inbound-recorder" | "archive" | "attachments">;
  /** Only this channel type's Messages (its own durable, filtered). */
  channelType?: string;
  /** `attempt` is the delivery count (1 = first), for a handler that gives up on something after a few tries. */
  handle(message: Message, context: { attempt: number }): Promise<void>;
  concurrency?: number;
  ackWaitMs?: number;
  random?: () => number;
  onEvent?: (event: InboundConsumerEvent) => void;
}

export interface InboundConsumer {
  stop(): Promise<void>;
}

export async function startInboundConsumer(options: InboundConsumerOptions): Promise<InboundConsumer> {
  const role = options.role ?? "inbound-recorder";
  const concurrency = options.concurrency ?? 16;
  const durable = gatewayDurableName(role, options.channelType);
  const stream = gatewayStreamName("inbound");
  const jsm = await jetstreamManager(options.nats);
  if ((await jsm.consumers.info(stream, durable).catch(() => undefined)) === undefined) {
    await jsm.consumers.add(stream, {
      durable_name: durable,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      ack_wait: nanos(options.ackWaitMs ?? 30_000),
      max_deliver: -1,
      max_ack_pending: concurrency * 4,
      ...(options.channelType !== undefined ? { filter_subject: gatewaySubjectFilter("in", options.channelType) } : {}),
    });
  }
  const consumer = await jetstream(options.nats).consumers.get(stream, durable);
  const messages = await consumer.consume({ max_messages: concurrency });
  const inFlight = new Set<Promise<void>>();

  const handleOne = async (m: JsMsg): Promise<void> => {
    const decoded = decodeMessage(m.data);
    if (!decoded.ok) {
      // An envelope never becomes valid on redelivery (an unknown version included): say so and move on.
      options.onEvent?.({ type: "skipped", detail: decoded.error.message });
      m.ack();
      return;
    }
    const attempt = m.info.deliveryCount;
    try {
      await options.handle(decoded.value, { attempt });
    } catch (error) {
      const delayMs = jitterDelay({ attempt, maxAttempts: Infinity, random: options.random ?? Math.random });
      options.onEvent?.({ type: "retry", messageId: decoded.value.id, attempt, delayMs, error });
      m.nak(delayMs);
      return;
    }
    m.ack();
    options.onEvent?.({ type: "handled", message: decoded.value, attempt });
  };

  const loop = (async () => {
    for await (const m of messages) {
      // Each in its own task (a slow handler must not hold the others' ack timers); max_ack_pending bounds them.
      const task = handleOne(m).finally(() => inFlight.delete(task));
      inFlight.add(task);
    }
  })();

  return {
    async stop() {
      await messages.close().catch(() => undefined);
      await loop.catch(() => undefined);
      await Promise.allSettled([...inFlight]);
    },
  };
}
