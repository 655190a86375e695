import { enforceGuardRails, type GuardRailFinding, type TesseraEnvironment } from "@tessera/contract";
import type { Coordinator } from "@tessera/coordinator";
import {
  SAMPLE_CHANNEL,
  createAdapterRegistry,
  githubInbound,
  sampleInbound,
  slackInbound,
  slackOutbound,
  standardWebhooksInbound,
  startGatewayRuntime,
  startInboundServer,
  toGatewayAccount,
  webhookPath,
  webhookSender,
  type AccountDirectory,
  type InProcessInboundStream,
} from "@tessera/gateway";

/*
 * `tessera dev` mounts the gateway (decision 0042). Embedded: the inbound server in this process on the
 * in-process stand-in for the inbound stream, which the guard rails refuse in production. Process mode: the
 * gateway's streams on the session's NATS, with the sender pool. Either way accounts come straight from the
 * coordinator in this process, and locally a `sample` account takes unsigned curl posts.
 */

/** The account `tessera dev` installs for the sample adapter. */
export const DEV_SAMPLE_ACCOUNT = { channelType: SAMPLE_CHANNEL, tenant: "dev", account: "local" } as const;

export interface DevGateway {
  url: string;
  /** Where `curl -d '{"text":"hi"}'` goes, when the sample adapter is mounted. */
  sampleWebhookUrl: string | undefined;
  stop(): Promise<void>;
}

export interface DevGatewayOptions {
  coordinator: Coordinator;
  environment: TesseraEnvironment;
  /** Embedded: the stand-in stream (also the coordinator's feed). Process mode: the session's NATS. */
  inbound: { kind: "in-process"; stream: InProcessInboundStream } | { kind: "jetstream"; natsUrl: string };
  host: string;
  port: number;
  onWarning: (finding: GuardRailFinding) => void;
}

function coordinatorAccounts(coordinator: Coordinator): AccountDirectory {
  return {
    get: async (channelType, tenant, account) => {
      const resolved = await coordinator.gateway.resolve({ channelType, tenant, account });
      return resolved === undefined ? undefined : toGatewayAccount(resolved.view, resolved.secrets);
    },
  };
}

export async function mountDevGateway(o: DevGatewayOptions): Promise<DevGateway> {
  // An unsigned endpoint has no business beyond a laptop: the sample is mounted in local only.
  const sample = o.environment === "local";
  const registry = createAdapterRegistry({
    inbound: [standardWebhooksInbound(), githubInbound(), slackInbound(), ...(sample ? [sampleInbound()] : [])],
    outbound: [slackOutbound(), webhookSender()],
  });
  const accounts = coordinatorAccounts(o.coordinator);
  if (sample) await o.coordinator.gateway.put(DEV_SAMPLE_ACCOUNT, {});
  const samplePath = webhookPath(DEV_SAMPLE_ACCOUNT.channelType, DEV_SAMPLE_ACCOUNT.tenant, DEV_SAMPLE_ACCOUNT.account);
  if (o.inbound.kind === "in-process") {
    enforceGuardRails(
      o.environment,
      { gateway: { inbound: "in-process", unsignedAdapters: registry.unsignedInbound } },
      o.onWarning,
    );
    const server = await startInboundServer({
      jetstream: o.inbound.stream,
      registry,
      accounts,
      host: o.host,
      port: o.port,
    });
    o.coordinator.gateway.attachFeed(o.inbound.stream);
    return {
      url: server.url,
      sampleWebhookUrl: sample ? server.url + samplePath : undefined,
      stop: () => server.close(),
    };
  }
  const runtime = await startGatewayRuntime({
    natsUrl: o.inbound.natsUrl,
    registry,
    accounts: () => accounts,
    environment: o.environment,
    host: o.host,
    port: o.port,
    onWarning: o.onWarning,
  });
  o.coordinator.gateway.attachFeed(runtime.feed);
  return {
    url: runtime.url,
    sampleWebhookUrl: sample ? runtime.url + samplePath : undefined,
    stop: () => runtime.stop(),
  };
}
