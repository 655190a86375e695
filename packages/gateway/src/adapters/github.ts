import type { MessageRelation } from "@tessera/contract";
import type { InboundAdapter, NormalizeOutcome } from "../adapter.js";
import { verifyGitHub } from "../signatures/github.js";
import { id, jsonObject, missing, obj, str, type Obj } from "./json-body.js";

/*
 * GitHub repository webhooks, JSON content type. Issue comments and opened issues become Messages in the
 * conversation `<owner>/<repo>#<number>`; the delivery id (X-GitHub-Delivery, the same on a redelivery) is the
 * source message id. `ping` is the handshake; any other event is acknowledged and ignored.
 */

const COMMENT_RELATIONS: Record<string, MessageRelation["type"] | null> = {
  created: null,
  edited: "edit",
  deleted: "delete",
};

function sender(body: Obj): { id: string; name?: string; is_bot?: boolean } | undefined {
  const s = obj(body["sender"]);
  const senderId = id(s?.["id"]);
  if (s === undefined || senderId === undefined) return undefined;
  const login = str(s["login"]);
  return { id: senderId, ...(login !== undefined ? { name: login } : {}), is_bot: s["type"] === "Bot" };
}

function normalize(event: string, delivery: string, body: Obj): NormalizeOutcome {
  const repo = str(obj(body["repository"])?.["full_name"]);
  const issue = obj(body["issue"]);
  const number = id(issue?.["number"]);
  const action = str(body["action"]);
  const who = sender(body);
  if (event !== "issue_comment" && !(event === "issues" && action === "opened"))
    return { kind: "ignore", reason: `event ${event}${action !== undefined ? `.${action}` : ""} is not carried` };
  if (repo === undefined) return missing("repository.full_name");
  if (number === undefined) return missing("issue.number");
  if (who === undefined) return missing("sender.id");
  const base = {
    conversation: `${repo}#${number}`,
    source_message_id: delivery,
    sender: who,
    attachments: [],
  };
  if (event === "issues") {
    const title = str(issue?.["title"]) ?? "";
    const text = [title, str(issue?.["body"])].filter((p) => p !== undefined).join("\n\n");
    return {
      kind: "message",
      event: { ...base, text, attributes: { "github.event": "issues", "github.issue_id": id(issue?.["id"]) ?? "" } },
    };
  }
  const comment = obj(body["comment"]);
  const commentId = id(comment?.["id"]);
  if (comment === undefined || commentId === undefined) return missing("comment.id");
  const relation = action === undefined ? undefined : COMMENT_RELATIONS[action];
  if (relation === undefined) return { kind: "ignore", reason: `issue_comment.${action ?? "?"} is not carried` };
  const created = str(comment["created_at"]);
  return {
    kind: "message",
    event: {
      ...base,
      text: relation === "delete" ? "" : (str(comment["body"]) ?? ""),
      attributes: { "github.event": "issue_comment", "github.comment_id": commentId },
      ...(relation !== null ? { relation: { type: relation, target_source_id: commentId } } : {}),
      ...(created !== undefined && relation === null ? { sent_at: created } : {}),
    },
  };
}

export function githubInbound(): InboundAdapter {
  return {
    channelType: "github",
    mediaTypes: ["application/json"],
    verify: (request, account) =>
      verifyGitHub({ headers: request.headers, body: request.body, secrets: account.signingSecrets }),
    handshake: (request) =>
      request.headers["x-github-event"] === "ping"
        ? { status: 200, contentType: "application/json", body: JSON.stringify({ ok: true, pong: true }) }
        : undefined,
    normalize(request) {
      const event = request.headers["x-github-event"];
      const delivery = request.headers["x-github-delivery"];
      if (event === undefined || event === "")
        return { kind: "invalid", field: "header X-GitHub-Event", detail: "missing" };
      if (delivery === undefined || delivery === "")
        return { kind: "invalid", field: "header X-GitHub-Delivery", detail: "missing" };
      const parsed = jsonObject(request);
      return parsed.ok ? normalize(event, delivery, parsed.value) : parsed.outcome;
    },
  };
}
