import { jetstreamManager, type JetStreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import type { GatewayStreamHealth } from "@tessera/client/schemas";
import {
  GATEWAY_STREAMS,
  decodeMessage,
  gatewayAccountChangesSubject,
  gatewayStreamName,
  gatewaySubjectFilter,
  NATS_CLIENT_OPTIONS,
  type GatewayStreamKind,
  type Message,
} from "@tessera/contract";

/*
 * The control plane's view of a gateway on NATS, for the coordinator (its `gateway.feed`): every inbound
 * message as the stream stores it (a core subscription on the inbound subjects — a stored publish is also
 * delivered to core subscribers — so each coordinator replica sees every message and serves the same tail),
 * the streams' figures from JetStream, and account changes announced to the gateway processes.
 */

export interface NatsGatewayFeed {
  readonly mode: "jetstream";
  onMessage(listener: (message: Message) => void): () => void;
  streams(): Promise<GatewayStreamHealth[]>;
  accountChanged(accountId: string): void;
}

const nanosToMs = (n: number | undefined) => (n === undefined ? null : Math.round(n / 1_000_000));

export function natsGatewayFeed(nc: NatsConnection, jsm: JetStreamManager): NatsGatewayFeed {
  return {
    mode: "jetstream",
    onMessage(listener) {
      const sub = nc.subscribe(gatewaySubjectFilter("in"), {
        callback: (err, msg) => {
          if (err !== null) return;
          // Duplicates inside the window are not stored, and not delivered either: the tail shows what was stored.
          const decoded = decodeMessage(msg.data);
          if (decoded.ok) listener(decoded.value);
        },
      });
      return () => sub.unsubscribe();
    },
    async streams() {
      const kinds = Object.keys(GATEWAY_STREAMS) as GatewayStreamKind[];
      return Promise.all(
        kinds.map(async (kind): Promise<GatewayStreamHealth> => {
          const name = gatewayStreamName(kind);
          const info = await jsm.streams.info(name).catch((err: unknown) => {
            if ((err as { name?: string }).name === "StreamNotFoundError" || /not found/i.test(String(err)))
              return undefined;
            throw err;
          });
          if (info === undefined)
            return {
              name,
              present: false,
              messages: 0,
              bytes: 0,
              firstSeq: 0,
              lastSeq: 0,
              lastAt: null,
              consumers: 0,
              duplicateWindowMs: null,
            };
          const s = info.state;
          return {
            name,
            present: true,
            messages: s.messages,
            bytes: s.bytes,
            firstSeq: s.first_seq,
            lastSeq: s.last_seq,
            lastAt: s.messages > 0 && s.last_ts !== undefined ? new Date(s.last_ts).toISOString() : null,
            consumers: s.consumer_count,
            duplicateWindowMs: nanosToMs(info.config.duplicate_window),
          };
        }),
      );
    },
    accountChanged(accountId) {
      nc.publish(gatewayAccountChangesSubject(), accountId);
    },
  };
}

/**
 * A feed on a connection of its own, for a coordinator's `gateway.feed`:
 * `createCoordinator({ …, gateway: { feed: (await connectGatewayFeed(natsUrl)).feed } })`.
 */
export async function connectGatewayFeed(natsUrl: string): Promise<{ feed: NatsGatewayFeed; close(): Promise<void> }> {
  const nc = await connect({
    ...NATS_CLIENT_OPTIONS,
    servers: natsUrl,
    name: "tessera-gateway-feed",
    maxReconnectAttempts: -1,
  });
  try {
    return { feed: natsGatewayFeed(nc, await jetstreamManager(nc)), close: () => nc.drain() };
  } catch (err) {
    await nc.close();
    throw err;
  }
}
