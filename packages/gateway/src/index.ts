/**
 * The channel gateway: webhooks in, messages out, on the JetStream spine. Dumb, fast and idempotent.
 *
 * ```ts
 * import { connect } from "@nats-io/transport-node";
 * import { jetstream, jetstreamManager } from "@nats-io/jetstream";
 * import { createEgress } from "@tessera/egress";
 * import { NATS_CLIENT_OPTIONS } from "@tessera/contract";
 * import * as gw from "@tessera/gateway";
 *
 * const nc = await connect({ ...NATS_CLIENT_OPTIONS, servers: process.env.NATS_URL });
 * await gw.ensureGatewayStreams(await jetstreamManager(nc));
 * const registry = gw.createAdapterRegistry({
 *   inbound: [gw.slackInbound(), gw.githubInbound(), gw.standardWebhooksInbound()],
 *   outbound: [gw.slackOutbound(), gw.webhookSender()],
 * });                                   // a slug registered twice throws here, at startup
 * const accounts = gw.staticAccounts([{ channelType: "slack", tenant: "acme", account: "T0001", signingSecrets: [secret],
 *                                       credentials: { botToken } }]);
 * const inbound = await gw.startInboundServer({ jetstream: jetstream(nc), registry, accounts, port: 7500 });
 * // Slack posts to inbound.url + gw.webhookPath("slack", "acme", "T0001")
 * const senders = await gw.startSenderPool({ nats: nc, registry, accounts, egress: createEgress() });
 * await gw.publishSendCommand(jetstream(nc), { schema_version: 1, id: "reply-1", scope: { tenant: "acme", account: "T0001" },
 *   channel_type: "slack", destination: { conversation: "C1" }, text: "on it" });
 * ```
 *
 * Inbound: verify the signature on the raw body → normalize to a `Message` → publish with Nats-Msg-Id =
 * `inboundDedupKey(scope, source id)` → 200, or 503 if the stream has not confirmed within 2.5 s.
 * Outbound: `SendCommand`s on the outbound work queue → per-key token bucket → adapter → routing table
 * (docs/gateway.md). Contract: docs/gateway-contract.md.
 */
export type {
  InboundAdapter,
  InboundRequest,
  HandshakeReply,
  NormalizedEvent,
  NormalizeOutcome,
  OutboundAdapter,
  OutboundCapabilities,
  SendContext,
  DeliveryResult,
  DeliveryError,
  RateLimit,
} from "./adapter.js";
export { staticAccounts, type AccountDirectory, type GatewayAccount } from "./accounts.js";
export { createAdapterRegistry, AdapterRegistryError, type AdapterRegistry } from "./registry.js";
export type { VerifyOutcome, VerifyFailure } from "./signatures/verify.js";
export {
  signStandardWebhook,
  standardWebhookHeaders,
  verifyStandardWebhook,
  STANDARD_WEBHOOKS_TOLERANCE_SEC,
} from "./signatures/standard-webhooks.js";
export { signGitHub, verifyGitHub } from "./signatures/github.js";
export { signSlack, verifySlack, SLACK_TOLERANCE_SEC } from "./signatures/slack.js";
export { slackInbound } from "./adapters/slack-inbound.js";
export { slackOutbound, SLACK_API_BASE, type SlackOutboundOptions } from "./adapters/slack-outbound.js";
export { githubInbound } from "./adapters/github.js";
export { standardWebhooksInbound, webhookSender, type WebhookSenderOptions } from "./adapters/webhook.js";
export { deliveryErrorFromStatus, deliveryErrorFromThrown, parseRetryAfter } from "./outbound/delivery-errors.js";
export { messageId } from "./inbound/message.js";
export {
  startInboundConsumer,
  type InboundConsumer,
  type InboundConsumerEvent,
  type InboundConsumerOptions,
} from "./inbound/consumer.js";
export {
  buildInboundApp,
  startInboundServer,
  webhookPath,
  INBOUND_DEFAULTS,
  type InboundServer,
  type InboundPublisher,
  type InboundServerOptions,
} from "./inbound/server.js";
export {
  ensureGatewayStreams,
  gatewayStreamSpecs,
  GATEWAY_STREAM_DEFAULTS,
  type GatewayStreamOptions,
} from "./streams.js";
export {
  RateLimiter,
  takeToken,
  MAX_RESERVE_MS,
  MAX_REFILL_MS,
  type RateLimiterOptions,
  type TakeResult,
  type TokenBuckets,
  type BucketState,
} from "./outbound/rate-limiter.js";
export {
  SharedRateLimiter,
  SHARED_RATE_BUCKET_TTL_MS,
  type SharedRateLimiterOptions,
} from "./outbound/shared-rate-limiter.js";
export { routeAttempt, jitterDelay, type AttemptOutcome, type Route, type RoutingPolicy } from "./outbound/routing.js";
export { publishSendCommand } from "./outbound/publish.js";
export {
  startSenderPool,
  SENDER_DEFAULTS,
  type SenderPool,
  type SenderPoolOptions,
  type SenderEvent,
} from "./outbound/sender-pool.js";
export {
  type AttachmentStore,
  type StoredAttachment,
  type StoredObjectInfo,
  sha256Hex,
  shouldRewrite,
} from "./attachments/store.js";
export { natsAttachmentStore, type NatsAttachmentStoreOptions } from "./attachments/nats-store.js";
export { s3AttachmentStore, type S3AttachmentStoreOptions } from "./attachments/s3-store.js";
export { fetchAttachment, type AttachmentFetch, type AttachmentFetchLimits } from "./attachments/fetch.js";
export {
  startAttachmentEnricher,
  enrichMessage,
  publishEnriched,
  AttachmentStoreError,
  ENRICHER_DEFAULTS,
  type AttachmentEnricher,
  type AttachmentEnricherOptions,
  type EnrichOptions,
  type EnricherEvent,
} from "./attachments/enricher.js";
export { type ArchiveTarget, type ArchiveCheckpoint } from "./archive/target.js";
export { directoryTarget } from "./archive/directory-target.js";
export { s3ArchiveTarget, type S3ArchiveTargetOptions } from "./archive/s3-target.js";
export { planArchiveFiles, type ArchiveFile, type ArchiveRecord } from "./archive/batch.js";
export {
  startArchiveSink,
  ARCHIVE_DEFAULTS,
  type ArchiveSink,
  type ArchiveSinkOptions,
  type ArchiveStep,
  type ArchiveEvent,
} from "./archive/sink.js";
export { sampleInbound, SAMPLE_CHANNEL } from "./adapters/sample.js";
export { InProcessInboundStream, type InProcessInboundStreamOptions } from "./inbound/in-process-stream.js";
export { connectGatewayFeed, natsGatewayFeed, type NatsGatewayFeed } from "./control/nats-feed.js";
export {
  ACCOUNT_CACHE_TTL_MS,
  cachedAccounts,
  sealedAccountLoader,
  toGatewayAccount,
  type AccountRecordSource,
  type CachedAccountDirectory,
  type CachedAccountsOptions,
} from "./control/vault-accounts.js";
export { startGatewayRuntime, type GatewayRuntime, type GatewayRuntimeOptions } from "./control/gateway-process.js";
