import { createHash } from "node:crypto";
import type { InboundAdapter, NormalizeOutcome } from "../adapter.js";
import { VERIFIED } from "../signatures/verify.js";
import { jsonObject, obj, str, type Obj } from "./json-body.js";

/*
 * `sample`: the adapter `tessera dev` mounts so a webhook can be tried with curl and no platform. It checks no
 * signature (`unsigned`, which the guard rails refuse outside local). Body: {"text": "...", "conversation"?,
 * "sender"?: "<id>" | {"id", "name"?}, "id"?}. The source id is `id`, else the body's SHA-256: the same curl
 * sent twice is one message (the duplicate window), as a platform's retry would be.
 */

export const SAMPLE_CHANNEL = "sample";

function normalize(raw: Buffer, body: Obj): NormalizeOutcome {
  if (typeof body["text"] !== "string") return { kind: "invalid", field: "text", detail: "expected a string" };
  const sender = obj(body["sender"]);
  const senderId = str(body["sender"]) ?? str(sender?.["id"]) ?? "curl";
  const name = str(sender?.["name"]);
  return {
    kind: "message",
    event: {
      conversation: str(body["conversation"]) ?? "sample",
      source_message_id: str(body["id"]) ?? createHash("sha256").update(raw).digest("hex"),
      sender: { id: senderId, ...(name !== undefined ? { name } : {}) },
      text: body["text"],
      attachments: [],
      attributes: {},
    },
  };
}

export function sampleInbound(): InboundAdapter {
  return {
    channelType: SAMPLE_CHANNEL,
    mediaTypes: ["application/json"],
    unsigned: true,
    verify: () => VERIFIED,
    normalize(request) {
      const parsed = jsonObject(request);
      return parsed.ok ? normalize(request.body, parsed.value) : parsed.outcome;
    },
  };
}
