import { createHash } from "node:crypto";
import { GATEWAY_SCHEMA_VERSION, validateMessage, type Message } from "@tessera/contract";
import type { NormalizedEvent } from "../adapter.js";
import type { GatewayAccount } from "../accounts.js";

/**
 * The Message id: a hash of (channel, tenant, account, source id), so a platform's retry of an event, even one
 * after the duplicate window, carries the same id and a consumer can key on it.
 */
export function messageId(channelType: string, tenant: string, account: string, sourceMessageId: string): string {
  const digest = createHash("sha256")
    .update(JSON.stringify([channelType, tenant, account, sourceMessageId]))
    .digest("hex");
  return `msg_${digest.slice(0, 32)}`;
}

/** Completes an adapter's event into a Message and validates it against the contract. */
export function completeMessage(event: NormalizedEvent, account: GatewayAccount, receivedAt: Date) {
  const { conversation, ...rest } = event;
  const message: Message = {
    schema_version: GATEWAY_SCHEMA_VERSION,
    id: messageId(account.channelType, account.tenant, account.account, event.source_message_id),
    scope: { tenant: account.tenant, account: account.account, conversation },
    channel_type: account.channelType,
    ...rest,
    received_at: receivedAt.toISOString(),
  };
  return validateMessage(message);
}
