import type { Message, SendCommand } from "@tessera/contract";
import type { Egress } from "@tessera/egress";
import type { GatewayAccount } from "./accounts.js";
import type { VerifyOutcome } from "./signatures/verify.js";

/** A webhook request as an inbound adapter sees it: lower-case header names, the raw body bytes. */
export interface InboundRequest {
  readonly headers: Readonly<Record<string, string | undefined>>;
  /** The body exactly as received: signatures are computed over these bytes, never over re-serialized JSON. */
  readonly body: Buffer;
  /** The media type without parameters, lower case (`application/json`). */
  readonly mediaType: string;
}

/** An answer a platform expects instead of processing (Slack's url_verification, GitHub's ping). */
export interface HandshakeReply {
  status: number;
  contentType: string;
  body: string;
}

/** What the adapter fills in; the gateway adds id, scope, channel type, received_at and the version. */
export type NormalizedEvent = Pick<Message, "source_message_id" | "sender" | "text" | "attachments" | "attributes"> &
  Partial<Pick<Message, "sent_at" | "relation">> & { conversation: string };

export type NormalizeOutcome =
  | { kind: "message"; event: NormalizedEvent }
  /** Authentic but not for us (a bot's own echo, an event type we do not carry): acknowledged, never retried. */
  | { kind: "ignore"; reason: string }
  /** Authentic but malformed: a 4xx naming the field. */
  | { kind: "invalid"; field: string; detail: string };

export interface InboundAdapter {
  /** The registry key and the Message's `channel_type`. */
  readonly channelType: string;
  /** Media types the platform posts; anything else is answered 415. */
  readonly mediaTypes: readonly string[];
  /** Takes webhooks without checking a signature (the dev sample): refused outside local (the guard rails). */
  readonly unsigned?: boolean;
  /** Checks the signature on the raw body; `now` comes from the gateway's injectable clock. */
  verify(request: InboundRequest, account: GatewayAccount, now: Date): VerifyOutcome;
  /** Called after `verify`; a reply here is sent as is and nothing is published. */
  handshake?(request: InboundRequest, account: GatewayAccount): HandshakeReply | undefined;
  normalize(request: InboundRequest, account: GatewayAccount): NormalizeOutcome;
  /**
   * Headers the attachment enricher sends when it fetches this platform's files (Slack's `url_private` wants the
   * bot token). The egress guard drops them on a redirect to another origin.
   */
  attachmentHeaders?(account: GatewayAccount): Record<string, string> | undefined;
}

export interface OutboundCapabilities {
  edit: boolean;
  threads: boolean;
  attachments: boolean;
}

export interface RateLimit {
  /** Tokens added per second. */
  perSecond: number;
  /** Bucket size: how many may go at once after a quiet spell. */
  burst: number;
}

/**
 * A failed delivery, said in the terms the routing table needs. `retryable` without `rateLimited` is a 5xx or a
 * network error; `rateLimited` is the platform's 429 (with its Retry-After when it gave one); neither is permanent.
 */
export interface DeliveryError {
  /** A reason code (`[a-z0-9_:.-]`, ≤ 64 bytes), e.g. `slack_channel_not_found`, `http_503`, `fetch_network`. */
  code: string;
  detail?: string;
  retryable: boolean;
  rateLimited: boolean;
  retryAfterMs?: number;
  httpStatus?: number;
}

export type DeliveryResult =
  { ok: true; platformMessageId?: string; httpStatus?: number } | { ok: false; error: DeliveryError };

export interface SendContext {
  account: GatewayAccount;
  /** The only way out (decision 0019): every platform call goes through it. */
  egress: Egress;
  signal: AbortSignal;
}

export interface OutboundAdapter {
  readonly channelType: string;
  readonly capabilities: OutboundCapabilities;
  /** The limit a platform applies when the account has no override. */
  readonly defaultRateLimit?: RateLimit;
  /** Which token bucket a command spends from (the platform's own limit unit); the account by default. */
  rateLimitKey?(command: SendCommand): string;
  send(command: SendCommand, context: SendContext): Promise<DeliveryResult>;
  edit?(command: SendCommand, context: SendContext): Promise<DeliveryResult>;
}
