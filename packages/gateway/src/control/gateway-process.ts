import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import {
  enforceGuardRails,
  NATS_CLIENT_OPTIONS,
  type GuardRailFinding,
  type TesseraEnvironment,
} from "@tessera/contract";
import { createEgress, type Egress } from "@tessera/egress";
import type { AccountDirectory } from "../accounts.js";
import type { AdapterRegistry } from "../registry.js";
import { startInboundServer, type InboundServer } from "../inbound/server.js";
import { startSenderPool, type SenderPool } from "../outbound/sender-pool.js";
import { ensureGatewayStreams, type GatewayStreamOptions } from "../streams.js";
import { natsGatewayFeed, type NatsGatewayFeed } from "./nats-feed.js";

/*
 * The gateway as its own process (`tessera gateway`): a NATS connection, the gateway's streams, the inbound
 * server and the sender pool, with accounts from a directory (the control plane's, in production). Checked
 * against the environment's guard rails before anything listens.
 */

export interface GatewayRuntimeOptions {
  natsUrl: string;
  registry: AdapterRegistry;
  /** Built once the NATS connection is up (a cached directory listens there for account changes). */
  accounts: (nc: NatsConnection) => AccountDirectory & { close?(): void };
  /** The way out for the sender pool. Default: one of its own (the public internet only), closed on stop. */
  egress?: Egress;
  environment: TesseraEnvironment;
  host?: string;
  port?: number;
  /** Run the sender pool too (default true). */
  send?: boolean;
  streams?: GatewayStreamOptions;
  onWarning?: (finding: GuardRailFinding) => void;
  onPublishFailure?: (err: unknown) => void;
}

export interface GatewayRuntime {
  url: string;
  nats: NatsConnection;
  feed: NatsGatewayFeed;
  inbound: InboundServer;
  sender: SenderPool | undefined;
  stop(): Promise<void>;
}

export async function startGatewayRuntime(options: GatewayRuntimeOptions): Promise<GatewayRuntime> {
  enforceGuardRails(
    options.environment,
    { gateway: { inbound: "jetstream", unsignedAdapters: options.registry.unsignedInbound } },
    (finding) => options.onWarning?.(finding),
  );
  const nc = await connect({
    ...NATS_CLIENT_OPTIONS,
    servers: options.natsUrl,
    name: "tessera-gateway",
    maxReconnectAttempts: -1,
  });
  const cleanups: (() => Promise<unknown> | unknown)[] = [() => nc.drain()];
  const egress = options.egress ?? createEgress();
  if (options.egress === undefined) cleanups.push(() => egress.close());
  const stop = async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  };
  try {
    const jsm = await jetstreamManager(nc);
    await ensureGatewayStreams(jsm, options.streams);
    const accounts = options.accounts(nc);
    cleanups.push(() => accounts.close?.());
    const inbound = await startInboundServer({
      jetstream: jetstream(nc),
      registry: options.registry,
      accounts,
      host: options.host ?? "127.0.0.1",
      port: options.port ?? 0,
      ...(options.onPublishFailure !== undefined ? { onPublishFailure: options.onPublishFailure } : {}),
    });
    cleanups.push(() => inbound.close());
    let sender: SenderPool | undefined;
    if (options.send !== false) {
      sender = await startSenderPool({ nats: nc, registry: options.registry, accounts, egress });
      const pool = sender;
      cleanups.push(() => pool.stop());
    }
    return { url: inbound.url, nats: nc, feed: natsGatewayFeed(nc, jsm), inbound, sender, stop };
  } catch (err) {
    await stop().catch(() => undefined);
    throw err;
  }
}
