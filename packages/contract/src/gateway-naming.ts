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
export function gatewaySubjectFilter(kind: "in" | "out" | "dlq" | "delivery", channelType?: string): string {
  return channelType === undefined ? `${ROOT}.${kind}.>` : `${ROOT}.${kind}.${token("channel type", channelType)}.>`;
}

export const GATEWAY_STREAMS = {
  /** Inbound Messages (limits retention, file; its duplicate window is the first idempotency layer). */
  inbound: "TESSERA_GW_INBOUND",
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

export const GATEWAY_DURABLE_ROLES = ["sender", "inbound-recorder", "archive"] as const;
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
