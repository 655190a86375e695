import { CHANNEL_TYPE_PATTERN } from "./gateway-message.js";
import { encodeNameToken } from "./naming.js";

/*
 * Every gateway name on the bus comes from these functions. Tokens are escaped with `encodeNameToken`, the
 * job subjects' injective code (`[a-z0-9-]` pass, every other byte becomes `_xx`), so no tenant, account or
 * channel can spell a `.`, `*` or `>` into a subject, and two different scopes never share one.
 */

const ROOT = "tessera.gw";

function token(what: string, value: string): string {
  if (typeof value !== "string" || value.length === 0) throw new TypeError(`${what}: expected a non-empty string`);
  return encodeNameToken(value);
}

export interface GatewaySubjectScope {
  channelType: string;
  tenant: string;
  account: string;
}

const scopeTokens = (s: GatewaySubjectScope): string =>
  `${token("channel type", s.channelType)}.${token("tenant", s.tenant)}.${token("account", s.account)}`;
const scoped = (kind: string, s: GatewaySubjectScope): string => `${ROOT}.${kind}.${scopeTokens(s)}`;

/** Where the gateway publishes an account's inbound Messages: `tessera.gw.in.<channel>.<tenant>.<account>`. */
export function inboundSubject(s: GatewaySubjectScope): string {
  return scoped("in", s);
}
/** Where SendCommands for an account are published: `tessera.gw.out.<channel>.<tenant>.<account>`. */
export function outboundSubject(s: GatewaySubjectScope): string {
  return scoped("out", s);
}
/** Dead letters of an account's SendCommands: `tessera.gw.dlq.<channel>.<tenant>.<account>`. */
export function gatewayDeadLetterSubject(s: GatewaySubjectScope): string {
  return scoped("dlq", s);
}
/**
 * Where the attachment enricher republishes an account's Messages once their attachments are fetched and stored
 * (or marked with an error code): `tessera.gw.enriched.<channel>.<tenant>.<account>`.
 */
export function enrichedSubject(s: GatewaySubjectScope): string {
  return scoped("enriched", s);
}
/**
 * One SendCommand's delivery record: `tessera.gw.delivery.<channel>.<command id>`. Keyed by the command so a
 * redelivered command can look up "already delivered" by subject before sending twice.
 */
export function deliverySubject(channelType: string, commandId: string): string {
  return `${ROOT}.delivery.${token("channel type", channelType)}.${token("command id", commandId)}`;
}

/**
 * Core NATS (no stream): a coordinator announces an account it changed (the payload is its
 * `<channel>/<tenant>/<account>`), and gateway processes drop what they cached of it.
 */
export function gatewayAccountChangesSubject(): string {
  return `${ROOT}.control.accounts`;
}

/** The wildcard of one kind, optionally narrowed to one channel type. */
export function gatewaySubjectFilter(
  kind: "in" | "enriched" | "out" | "dlq" | "delivery",
  channelType?: string,
): string {
  return channelType === undefined ? `${ROOT}.${kind}.>` : `${ROOT}.${kind}.${token("channel type", channelType)}.>`;
}

export const GATEWAY_STREAMS = {
  /** Inbound Messages (limits retention, file; its duplicate window is the first idempotency layer). */
  inbound: "TESSERA_GW_INBOUND",
  /** Inbound Messages again, with their attachments fetched and stored (limits retention, file). */
  enriched: "TESSERA_GW_ENRICHED",
  /** SendCommands waiting for the sender pool (work queue, file). */
  outbound: "TESSERA_GW_OUTBOUND",
  /** Delivery records and dead letters of SendCommands (limits retention, file). */
  deliveries: "TESSERA_GW_DELIVERIES",
} as const;
export type GatewayStreamKind = keyof typeof GATEWAY_STREAMS;

/** The stream that holds one kind of gateway traffic. */
export function gatewayStreamName(kind: GatewayStreamKind): string {
  const name = GATEWAY_STREAMS[kind];
  if (name === undefined) throw new TypeError(`gateway stream: unknown kind ${JSON.stringify(kind)}`);
  return name;
}

/** The key-value store that holds the sender pool's token buckets, shared by every sender replica. */
export function gatewayRateBucketName(): string {
  return "tessera_gw_rate";
}

export const GATEWAY_DURABLE_ROLES = [
  "sender",
  "inbound-recorder",
  "archive",
  "enriched-archive",
  "attachments",
] as const;
export type GatewayDurableRole = (typeof GATEWAY_DURABLE_ROLES)[number];

/**
 * The durable consumer a gateway role shares: `tessera-gw-sender` (all channels) or `tessera-gw-sender-<channel>`
 * (a pool for one channel type, filtered to its subjects).
 */
export function gatewayDurableName(role: GatewayDurableRole, channelType?: string): string {
  if (!GATEWAY_DURABLE_ROLES.includes(role))
    throw new TypeError(`gateway durable: unknown role ${JSON.stringify(role)}`);
  return channelType === undefined ? `tessera-gw-${role}` : `tessera-gw-${role}-${token("channel type", channelType)}`;
}

/**
 * The inbound Nats-Msg-Id: the account's full scope and the platform's id of the event, each escaped and joined
 * by `.` (which no escaped token contains), so two different (scope, source id) pairs never share a key.
 */
export function inboundDedupKey(s: GatewaySubjectScope, sourceMessageId: string): string {
  return `${scopeTokens(s)}.${token("source message id", sourceMessageId)}`;
}

/** The JetStream object store bucket that holds attachments' bytes, content-addressed, with a TTL. */
export function attachmentBucketName(): string {
  return "TESSERA_GW_ATTACHMENTS";
}

const SHA256_HEX = /^[0-9a-f]{64}$/;

/**
 * An attachment's storage key: `sha256/<64 hex>`, the same in the object store and in an S3 bucket (under the
 * store's prefix), so equal bytes are stored once whoever sent them.
 */
export function attachmentStorageKey(sha256: string): string {
  if (!SHA256_HEX.test(sha256)) throw new TypeError("attachment storage key: expected 64 lower-case hex characters");
  return `sha256/${sha256}`;
}

const DATE_ONLY = /^\d{4}-\d{2}-\d{2}$/;

/**
 * The hive partition of an archived Message: `channel_type=<slug>/date=<YYYY-MM-DD>`, the date being the UTC day
 * of its `received_at`. The slug is already a safe path segment (`CHANNEL_TYPE_PATTERN`).
 */
export function archivePartition(channelType: string, receivedAt: string): string {
  if (!new RegExp(CHANNEL_TYPE_PATTERN).test(channelType))
    throw new TypeError(`archive partition: channel type ${JSON.stringify(channelType)} is not a slug`);
  const at = new Date(receivedAt);
  if (Number.isNaN(at.getTime())) throw new TypeError(`archive partition: received_at ${JSON.stringify(receivedAt)}`);
  const date = at.toISOString().slice(0, 10);
  if (!DATE_ONLY.test(date)) throw new TypeError(`archive partition: received_at ${JSON.stringify(receivedAt)}`);
  return `channel_type=${channelType}/date=${date}`;
}

/** An archive file: `<consumer>-<first seq>-<last seq>.ndjson`, the stream sequences of its first and last record. */
export function archiveFileName(consumer: string, firstSeq: number, lastSeq: number): string {
  if (!/^[a-z0-9][a-z0-9_-]{0,127}$/.test(consumer))
    throw new TypeError(`archive file: consumer ${JSON.stringify(consumer)} is not a durable name`);
  if (!Number.isSafeInteger(firstSeq) || firstSeq < 1 || !Number.isSafeInteger(lastSeq) || lastSeq < firstSeq)
    throw new RangeError(`archive file: sequences ${firstSeq}-${lastSeq}`);
  return `${consumer}-${firstSeq}-${lastSeq}.ndjson`;
}
