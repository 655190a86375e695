import type { InboundAdapter, NormalizeOutcome, OutboundAdapter, SendContext } from "../adapter.js";
import { deliveryErrorFromStatus, deliveryErrorFromThrown } from "../outbound/delivery-errors.js";
import { standardWebhookHeaders, verifyStandardWebhook } from "../signatures/standard-webhooks.js";
import { jsonObject, missing, obj, str, type Obj } from "./json-body.js";

/*
 * The generic channel, `webhook`: any system that signs with Standard Webhooks can post messages in, and the
 * gateway posts SendCommands out to an account's URL signed the same way.
 *
 * Inbound body: {"conversation": "...", "sender": {"id": "...", "name"?: "..."}, "text"?: "...",
 *                "relation"?: {...}, "attributes"?: {...}, "sent_at"?: "..."}; the source id is `webhook-id`.
 */

const RELATIONS = new Set(["reply", "edit", "delete", "reaction"]);

function normalize(webhookId: string, body: Obj): NormalizeOutcome {
  const conversation = str(body["conversation"]);
  const sender = obj(body["sender"]);
  const senderId = str(sender?.["id"]);
  if (conversation === undefined) return missing("conversation");
  if (senderId === undefined) return missing("sender.id");
  if (body["text"] !== undefined && typeof body["text"] !== "string")
    return { kind: "invalid", field: "text", detail: "expected a string" };
  const relation = obj(body["relation"]);
  if (relation !== undefined && !RELATIONS.has(String(relation["type"])))
    return { kind: "invalid", field: "relation.type", detail: "expected reply, edit, delete or reaction" };
  const attributes = obj(body["attributes"]) ?? {};
  const name = str(sender?.["name"]);
  const sentAt = str(body["sent_at"]);
  // The contract validates the rest (lengths, the relation's fields) and names the field when it refuses.
  return {
    kind: "message",
    event: {
      conversation,
      source_message_id: webhookId,
      sender: { id: senderId, ...(name !== undefined ? { name } : {}) },
      text: (body["text"] as string | undefined) ?? "",
      attachments: [],
      attributes: attributes as Record<string, string>,
      ...(relation !== undefined ? { relation: relation as never } : {}),
      ...(sentAt !== undefined ? { sent_at: sentAt } : {}),
    },
  };
}

export function standardWebhooksInbound(): InboundAdapter {
  return {
    channelType: "webhook",
    mediaTypes: ["application/json"],
    verify: (request, account, now) =>
      verifyStandardWebhook({ headers: request.headers, body: request.body, secrets: account.signingSecrets, now }),
    normalize(request) {
      const parsed = jsonObject(request);
      return parsed.ok ? normalize(request.headers["webhook-id"] ?? "", parsed.value) : parsed.outcome;
    },
  };
}

const REQUEST_TIMEOUT_MS = 10_000;

export interface WebhookSenderOptions {
  /** The clock the signature's timestamp is taken from. */
  now?: () => Date;
}

/**
 * Posts each SendCommand as JSON to the account's `settings.url`, signed with Standard Webhooks using
 * `credentials.signingSecret` (`whsec_…`); the webhook-id is the command's id, so the receiver can dedup on it.
 */
export function webhookSender(options: WebhookSenderOptions = {}): OutboundAdapter {
  const now = options.now ?? (() => new Date());
  const post = async (command: Parameters<OutboundAdapter["send"]>[0], ctx: SendContext) => {
    const url = ctx.account.settings?.["url"];
    const secret = ctx.account.credentials?.["signingSecret"];
    if (url === undefined || secret === undefined)
      return {
        ok: false as const,
        error: {
          code: "account_misconfigured",
          detail: "webhook accounts need settings.url and credentials.signingSecret",
          retryable: false,
          rateLimited: false,
        },
      };
    const body = JSON.stringify({
      type: command.edit_target === undefined ? "message.send" : "message.edit",
      id: command.id,
      scope: command.scope,
      destination: command.destination,
      text: command.text,
      ...(command.edit_target !== undefined ? { edit_target: command.edit_target } : {}),
      ...(command.attributes !== undefined ? { attributes: command.attributes } : {}),
    });
    const headers = standardWebhookHeaders([secret], command.id, Math.floor(now().getTime() / 1000), body);
    try {
      const res = await ctx.egress.fetch(url, {
        method: "POST",
        headers: { ...headers, "content-type": "application/json", "user-agent": "tessera-gateway" },
        body,
        timeoutMs: REQUEST_TIMEOUT_MS,
        maxBytes: 64 * 1024,
        maxRedirects: 0,
        signal: ctx.signal,
      });
      const text = await res.text().catch(() => "");
      if (res.status >= 200 && res.status < 300) {
        const platformId = str(obj(safeJson(text))?.["id"]);
        return {
          ok: true as const,
          httpStatus: res.status,
          ...(platformId !== undefined ? { platformMessageId: platformId } : {}),
        };
      }
      return {
        ok: false as const,
        error: deliveryErrorFromStatus(res.status, res.headers.get("retry-after"), now(), text.slice(0, 512)),
      };
    } catch (err) {
      return { ok: false as const, error: deliveryErrorFromThrown(err) };
    }
  };
  return {
    channelType: "webhook",
    capabilities: { edit: true, threads: true, attachments: false },
    send: post,
    edit: post,
  };
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
