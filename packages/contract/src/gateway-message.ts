import { Type, type Static, type TSchema } from "@sinclair/typebox";
import { JobId, ReasonCodeString, Timestamp } from "./common-schemas.js";
import { envelopePreamble, parseEnvelopeBytes, utf8Encoder } from "./envelope-codec.js";
import { ContractValidationError, compileValidator, type Validated } from "./validation-error.js";

/*
 * The gateway's envelopes: an inbound `Message` (what a platform told us, normalized) and an outbound
 * `SendCommand` (what to say on a platform), plus the `DeliveryRecord` the sender pool writes for each command
 * it finishes. docs/gateway-contract.md states them and their change policy. They are versioned apart from the
 * job envelopes: a change to one never forces a version bump on the other.
 */

export const GATEWAY_SCHEMA_VERSION = 1 as const;
export const GATEWAY_SUPPORTED_SCHEMA_VERSIONS: readonly number[] = [GATEWAY_SCHEMA_VERSION];

/** A channel type's slug: the adapter registry's key and a subject token, e.g. `slack`, `github`, `webhook`. */
export const CHANNEL_TYPE_PATTERN = "^[a-z][a-z0-9-]{0,62}$";
export const ChannelType = Type.String({ pattern: CHANNEL_TYPE_PATTERN, description: "a slug such as slack" });

/** Tenant and account ids: printable, no spaces; escaped into subject tokens by the naming functions. */
export const SCOPE_ID_PATTERN = "^[A-Za-z0-9_.:@-]{1,128}$";
const ScopeId = Type.String({ pattern: SCOPE_ID_PATTERN, description: "1-128 characters of [A-Za-z0-9_.:@-]" });
/** An id a platform gave something (a message, a user, a channel): opaque, bounded, never empty. */
const PlatformId = Type.String({ minLength: 1, maxLength: 256 });
const Sha256Hex = Type.String({ pattern: "^[0-9a-f]{64}$", description: "64 lower-case hex characters" });

export const MAX_ATTACHMENTS = 32;
export const MAX_ATTRIBUTES = 32;
export const MAX_TEXT_LENGTH = 65_536;

/** Small string facts that no field holds (a platform's own ids, flags); not a place for payloads. */
const Attributes = Type.Record(Type.String({ pattern: "^.{1,64}$" }), Type.String({ maxLength: 1024 }), {
  maxProperties: MAX_ATTRIBUTES,
  additionalProperties: false,
});

/** Tenant → account: whose installation on a platform this is. */
export const AccountScope = Type.Object({ tenant: ScopeId, account: ScopeId }, { additionalProperties: false });
/** Tenant → account → conversation (a channel, a DM, an issue): where a message was said. */
export const ConversationScope = Type.Object(
  { tenant: ScopeId, account: ScopeId, conversation: PlatformId },
  { additionalProperties: false },
);

export const MessageSender = Type.Object(
  {
    id: PlatformId,
    name: Type.Optional(Type.String({ maxLength: 256 })),
    is_bot: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);

/**
 * An attachment as the platform announced it and, once fetched, where its bytes are. A fetch that failed keeps
 * the attachment with `error_code` set: a message is never dropped for a file it could not get.
 */
export const MessageAttachment = Type.Object(
  {
    name: Type.Optional(Type.String({ maxLength: 512 })),
    content_type: Type.Optional(Type.String({ minLength: 1, maxLength: 255 })),
    byte_size: Type.Optional(Type.Integer({ minimum: 0 })),
    source_url: Type.Optional(Type.String({ minLength: 1, maxLength: 4096 })),
    /** Content-addressed key in the attachment store (the sha256), set once the bytes are stored. */
    storage_key: Type.Optional(Type.String({ minLength: 1, maxLength: 512 })),
    sha256: Type.Optional(Sha256Hex),
    error_code: Type.Optional(ReasonCodeString),
  },
  { additionalProperties: false },
);

export const RELATION_TYPES = ["reply", "edit", "delete", "reaction"] as const;
/** This message is about another one, named by the platform's id of that message. */
export const MessageRelation = Type.Object(
  {
    type: Type.Union(RELATION_TYPES.map((t) => Type.Literal(t))),
    target_source_id: PlatformId,
    /** The reaction's name (`thumbsup`); required with `reaction`, refused otherwise. */
    reaction: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
    /** A reaction taken back. */
    removed: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);

export const MessageSchema = Type.Object(
  {
    schema_version: Type.Literal(GATEWAY_SCHEMA_VERSION),
    /** Derived from (channel, scope, source_message_id): the same platform event always gets the same id. */
    id: JobId,
    scope: ConversationScope,
    channel_type: ChannelType,
    /** The platform's id of this event, stable across its retries: half of the inbound dedup key. */
    source_message_id: PlatformId,
    sender: MessageSender,
    text: Type.String({ maxLength: MAX_TEXT_LENGTH }),
    attachments: Type.Array(MessageAttachment, { maxItems: MAX_ATTACHMENTS }),
    received_at: Timestamp,
    /** When the platform says it happened, when it says. */
    sent_at: Type.Optional(Timestamp),
    attributes: Attributes,
    relation: Type.Optional(MessageRelation),
  },
  { additionalProperties: false },
);
export type Message = Static<typeof MessageSchema>;
export type MessageAttachmentValue = Static<typeof MessageAttachment>;
export type MessageRelationValue = Static<typeof MessageRelation>;
export type AccountScopeValue = Static<typeof AccountScope>;
export type ConversationScopeValue = Static<typeof ConversationScope>;

export const SendDestination = Type.Object(
  {
    conversation: PlatformId,
    /** Reply in this thread (the platform's id of its first message). */
    thread: Type.Optional(PlatformId),
  },
  { additionalProperties: false },
);

export const SendAttachment = Type.Object(
  {
    storage_key: Type.String({ minLength: 1, maxLength: 512 }),
    sha256: Type.Optional(Sha256Hex),
    name: Type.Optional(Type.String({ maxLength: 512 })),
    content_type: Type.Optional(Type.String({ minLength: 1, maxLength: 255 })),
  },
  { additionalProperties: false },
);

export const SendCommandSchema = Type.Object(
  {
    schema_version: Type.Literal(GATEWAY_SCHEMA_VERSION),
    /** The dedup key end to end: the publish's Nats-Msg-Id and the delivery record's key. */
    id: JobId,
    scope: AccountScope,
    channel_type: ChannelType,
    destination: SendDestination,
    text: Type.String({ maxLength: MAX_TEXT_LENGTH }),
    attachments: Type.Optional(Type.Array(SendAttachment, { maxItems: MAX_ATTACHMENTS })),
    /** Edit this earlier message (the platform's id of it) instead of sending a new one. */
    edit_target: Type.Optional(PlatformId),
    attributes: Type.Optional(Attributes),
    created_at: Type.Optional(Timestamp),
  },
  { additionalProperties: false },
);
export type SendCommand = Static<typeof SendCommandSchema>;

export const DELIVERY_STATUSES = ["delivered", "dead_lettered"] as const;
/** What became of one SendCommand; written once per command by the sender pool. */
export const DeliveryRecordSchema = Type.Object(
  {
    schema_version: Type.Literal(GATEWAY_SCHEMA_VERSION),
    command_id: JobId,
    scope: AccountScope,
    channel_type: ChannelType,
    status: Type.Union(DELIVERY_STATUSES.map((s) => Type.Literal(s))),
    /** The delivery attempt that ended it (1 = first). */
    attempt: Type.Integer({ minimum: 1 }),
    at: Timestamp,
    /** The platform's id of the message sent or edited. */
    platform_message_id: Type.Optional(PlatformId),
    http_status: Type.Optional(Type.Integer({ minimum: 100, maximum: 599 })),
    reason_code: Type.Optional(ReasonCodeString),
    reason_detail: Type.Optional(Type.String({ maxLength: 4096 })),
    /** A dead letter keeps the command, so it can be sent again as it was. */
    command: Type.Optional(SendCommandSchema),
  },
  { additionalProperties: false },
);
export type DeliveryRecord = Static<typeof DeliveryRecordSchema>;

interface Codec<T> {
  validate(value: unknown): Validated<T>;
  decode(bytes: Uint8Array): Validated<T>;
  encode(value: T): Uint8Array;
}

function codec<T>(schema: TSchema, name: string, rules: (value: T) => ContractValidationError | undefined): Codec<T> {
  const checkShape = compileValidator<T>(schema, name);
  const validate = (value: unknown): Validated<T> => {
    const early = envelopePreamble(value, name, GATEWAY_SUPPORTED_SCHEMA_VERSIONS);
    if (early !== undefined) return { ok: false, error: early.error };
    const shaped = checkShape(value);
    if (!shaped.ok) return shaped;
    const broken = rules(shaped.value);
    return broken === undefined ? shaped : { ok: false, error: broken };
  };
  return {
    validate,
    decode: (bytes) => {
      const parsed = parseEnvelopeBytes(bytes, name);
      return parsed.ok ? validate(parsed.value) : parsed;
    },
    encode: (value) => {
      const checked = validate(value);
      if (!checked.ok) throw checked.error;
      return utf8Encoder.encode(JSON.stringify(value));
    },
  };
}

function relationRule(message: Message): ContractValidationError | undefined {
  const relation = message.relation;
  if (relation === undefined) return undefined;
  const isReaction = relation.type === "reaction";
  if (isReaction === (relation.reaction !== undefined) && (isReaction || relation.removed === undefined))
    return undefined;
  return new ContractValidationError("Message", [
    {
      path: isReaction ? "relation.reaction" : "relation",
      expected: isReaction ? "the reaction's name" : "no reaction or removed field unless type is reaction",
      received: isReaction ? "nothing (field missing)" : `type ${JSON.stringify(relation.type)} with reaction fields`,
    },
  ]);
}

const messageCodec = codec<Message>(MessageSchema, "Message", relationRule);
const sendCodec = codec<SendCommand>(SendCommandSchema, "SendCommand", () => undefined);
const deliveryCodec = codec<DeliveryRecord>(DeliveryRecordSchema, "DeliveryRecord", () => undefined);

export const validateMessage = messageCodec.validate;
/** Parses and validates a Message's bytes. Never throws. */
export const decodeMessage = messageCodec.decode;
/** Validates then encodes; the gateway never publishes an invalid Message. */
export const encodeMessage = messageCodec.encode;
export const validateSendCommand = sendCodec.validate;
export const decodeSendCommand = sendCodec.decode;
export const encodeSendCommand = sendCodec.encode;
export const validateDeliveryRecord = deliveryCodec.validate;
export const decodeDeliveryRecord = deliveryCodec.decode;
export const encodeDeliveryRecord = deliveryCodec.encode;
