import type { MessageAttachment, MessageRelation } from "@tessera/contract";
import type { HandshakeReply, InboundAdapter, InboundRequest, NormalizeOutcome, NormalizedEvent } from "../adapter.js";
import type { GatewayAccount } from "../accounts.js";
import { verifySlack } from "../signatures/slack.js";
import { jsonObject, missing, obj, str, type Obj } from "./json-body.js";

/*
 * Slack: the Events API (JSON) and slash commands (form-encoded), both signed with the app's signing secret.
 * Slack retries an event it did not see acknowledged (X-Slack-Retry-Num) with the same `event_id`, which is our
 * source message id, so the inbound dedup key makes a retry one message.
 */

/** `1355517523.000005` → RFC 3339. */
function slackTime(ts: string | undefined): string | undefined {
  if (ts === undefined || !/^\d+(\.\d+)?$/.test(ts)) return undefined;
  return new Date(Math.floor(Number(ts) * 1000)).toISOString();
}

function files(event: Obj): MessageAttachment[] {
  const list = Array.isArray(event["files"]) ? (event["files"] as unknown[]) : [];
  return list.slice(0, 32).flatMap((f) => {
    const file = obj(f);
    if (file === undefined) return [];
    const out: MessageAttachment = {};
    const name = str(file["name"]);
    const type = str(file["mimetype"]);
    const url = str(file["url_private"]);
    if (name !== undefined) out.name = name.slice(0, 512);
    if (type !== undefined) out.content_type = type.slice(0, 255);
    if (typeof file["size"] === "number" && Number.isInteger(file["size"]) && file["size"] >= 0)
      out.byte_size = file["size"];
    if (url !== undefined) out.source_url = url.slice(0, 4096);
    return [out];
  });
}

function attributes(entries: Record<string, string | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(entries)) if (v !== undefined) out[k] = v.slice(0, 1024);
  return out;
}

function messageEvent(eventId: string, team: string | undefined, event: Obj): NormalizeOutcome {
  const subtype = str(event["subtype"]);
  const channel = str(event["channel"]);
  if (channel === undefined) return missing("event.channel");
  if (subtype === "bot_message" || str(event["bot_id"]) !== undefined)
    return { kind: "ignore", reason: "a bot's message (ours or another app's)" };
  let inner = event;
  let relation: MessageRelation | undefined;
  if (subtype === "message_changed") {
    const changed = obj(event["message"]);
    if (changed === undefined) return missing("event.message");
    if (str(changed["bot_id"]) !== undefined)
      return { kind: "ignore", reason: "a bot's message (ours or another app's)" };
    const target = str(changed["ts"]);
    if (target === undefined) return missing("event.message.ts");
    inner = changed;
    relation = { type: "edit", target_source_id: target };
  } else if (subtype === "message_deleted") {
    const target = str(event["deleted_ts"]);
    if (target === undefined) return missing("event.deleted_ts");
    inner = obj(event["previous_message"]) ?? {};
    relation = { type: "delete", target_source_id: target };
  } else if (subtype !== undefined && !["thread_broadcast", "file_share", "me_message"].includes(subtype)) {
    return { kind: "ignore", reason: `message subtype ${subtype} is not carried` };
  } else {
    const thread = str(event["thread_ts"]);
    if (thread !== undefined && thread !== str(event["ts"])) relation = { type: "reply", target_source_id: thread };
  }
  const ts = str(inner["ts"]);
  const sentAt = slackTime(str(event["ts"]));
  const normalized: NormalizedEvent = {
    conversation: channel,
    source_message_id: eventId,
    sender: { id: str(inner["user"]) ?? "unknown" },
    text: relation?.type === "delete" ? "" : (str(inner["text"]) ?? ""),
    attachments: files(inner),
    attributes: attributes({ "slack.ts": ts, "slack.team": team, "slack.event_type": str(event["type"]) }),
    ...(sentAt !== undefined ? { sent_at: sentAt } : {}),
    ...(relation !== undefined ? { relation } : {}),
  };
  return { kind: "message", event: normalized };
}

function reactionEvent(eventId: string, team: string | undefined, event: Obj): NormalizeOutcome {
  const item = obj(event["item"]);
  const channel = str(item?.["channel"]);
  const target = str(item?.["ts"]);
  const reaction = str(event["reaction"]);
  const user = str(event["user"]);
  if (channel === undefined) return missing("event.item.channel");
  if (target === undefined) return missing("event.item.ts");
  if (reaction === undefined) return missing("event.reaction");
  if (user === undefined) return missing("event.user");
  const sentAt = slackTime(str(event["event_ts"]));
  return {
    kind: "message",
    event: {
      conversation: channel,
      source_message_id: eventId,
      sender: { id: user },
      text: "",
      attachments: [],
      attributes: attributes({ "slack.team": team, "slack.event_type": str(event["type"]) }),
      relation: {
        type: "reaction",
        target_source_id: target,
        reaction: reaction.slice(0, 128),
        ...(event["type"] === "reaction_removed" ? { removed: true } : {}),
      },
      ...(sentAt !== undefined ? { sent_at: sentAt } : {}),
    },
  };
}

function normalizeEvents(body: Obj, account: GatewayAccount): NormalizeOutcome {
  const appId = account.settings?.["appId"];
  if (appId !== undefined && body["api_app_id"] !== appId)
    return { kind: "ignore", reason: `for app ${String(body["api_app_id"])}, not ${appId}` };
  if (body["type"] !== "event_callback") return { kind: "ignore", reason: `envelope type ${String(body["type"])}` };
  const eventId = str(body["event_id"]);
  if (eventId === undefined) return missing("event_id");
  const event = obj(body["event"]);
  if (event === undefined) return missing("event");
  const team = str(body["team_id"]);
  switch (event["type"]) {
    case "message":
    case "app_mention":
      return messageEvent(eventId, team, event);
    case "reaction_added":
    case "reaction_removed":
      return reactionEvent(eventId, team, event);
    default:
      return { kind: "ignore", reason: `event type ${String(event["type"])} is not carried` };
  }
}

/** A slash command: one message whose source id is the command's trigger_id. */
function normalizeCommand(request: InboundRequest): NormalizeOutcome {
  const form = new URLSearchParams(request.body.toString("utf8"));
  const get = (k: string) => str(form.get(k) ?? undefined);
  const trigger = get("trigger_id");
  const channel = get("channel_id");
  const user = get("user_id");
  const command = get("command");
  if (trigger === undefined) return missing("trigger_id");
  if (channel === undefined) return missing("channel_id");
  if (user === undefined) return missing("user_id");
  if (command === undefined) return missing("command");
  const name = get("user_name");
  return {
    kind: "message",
    event: {
      conversation: channel,
      source_message_id: trigger,
      sender: { id: user, ...(name !== undefined ? { name } : {}) },
      text: [command, get("text")].filter((p) => p !== undefined).join(" "),
      attachments: [],
      attributes: attributes({
        "slack.team": get("team_id"),
        "slack.command": command,
        "slack.response_url": get("response_url"),
      }),
    },
  };
}

export function slackInbound(): InboundAdapter {
  return {
    channelType: "slack",
    mediaTypes: ["application/json", "application/x-www-form-urlencoded"],
    verify: (request, account, now) =>
      verifySlack({ headers: request.headers, body: request.body, secrets: account.signingSecrets, now }),
    handshake(request): HandshakeReply | undefined {
      if (request.mediaType !== "application/json") return undefined;
      const parsed = jsonObject(request);
      if (!parsed.ok || parsed.value["type"] !== "url_verification") return undefined;
      const challenge = str(parsed.value["challenge"]) ?? "";
      return { status: 200, contentType: "application/json", body: JSON.stringify({ challenge }) };
    },
    normalize(request, account) {
      if (request.mediaType === "application/x-www-form-urlencoded") return normalizeCommand(request);
      const parsed = jsonObject(request);
      return parsed.ok ? normalizeEvents(parsed.value, account) : parsed.outcome;
    },
    // `url_private` files are served to the app's bot token only.
    attachmentHeaders(account) {
      const token = account.credentials?.["botToken"];
      return token === undefined ? undefined : { authorization: `Bearer ${token}` };
    },
  };
}
