import { request } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { inboundDedupKey } from "@tessera/contract";
import { signGitHub, standardWebhookHeaders, webhookPath } from "@tessera/gateway";
import {
  GITHUB_SECRET,
  WEBHOOK_SECRET,
  slackEvent,
  slackHeaders,
  startInboundHarness,
  type InboundHarness,
} from "./support/inbound-harness.js";

const SLACK = webhookPath("slack", "acme", "T1DC2JH3J");
let h: InboundHarness;

beforeAll(async () => {
  h = await startInboundHarness();
});
afterAll(async () => {
  await h?.close();
});

const countOf = async (sourceId: string) =>
  (await h.stored()).filter((s) => s.message.source_message_id === sourceId).length;

describe("inbound: verify → normalize → publish → 200", () => {
  it("stores a Slack message with Nats-Msg-Id = scope + event id and answers with its id", async () => {
    const body = slackEvent("Ev001", {
      type: "message",
      channel: "C1",
      user: "U1",
      text: "hi",
      ts: "1765000000.000100",
    });
    const res = await h.post(SLACK, body, slackHeaders(body, h.clock.now));
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ ok: true, duplicate: false });
    const [stored] = (await h.stored()).filter((s) => s.message.source_message_id === "Ev001");
    expect(stored!.msgId).toBe(
      inboundDedupKey({ channelType: "slack", tenant: "acme", account: "T1DC2JH3J" }, "Ev001"),
    );
    expect(stored!.message).toMatchObject({
      id: res.json.id,
      scope: { tenant: "acme", account: "T1DC2JH3J", conversation: "C1" },
      channel_type: "slack",
      sender: { id: "U1" },
      text: "hi",
      received_at: h.clock.now.toISOString(),
      attributes: { "slack.ts": "1765000000.000100" },
    });
  });

  it("makes Slack's retry (X-Slack-Retry-Num, re-signed later) inside the duplicate window one message", async () => {
    const body = slackEvent("Ev002", {
      type: "message",
      channel: "C1",
      user: "U1",
      text: "once",
      ts: "1765000001.000100",
    });
    const first = await h.post(SLACK, body, slackHeaders(body, h.clock.now));
    const later = new Date(h.clock.now.getTime() + 60_000);
    h.clock.now = later;
    const retry = await h.post(
      SLACK,
      body,
      slackHeaders(body, later, { "x-slack-retry-num": "1", "x-slack-retry-reason": "http_timeout" }),
    );
    expect(first.json).toMatchObject({ ok: true, duplicate: false });
    expect(retry.status).toBe(200);
    expect(retry.json).toMatchObject({ ok: true, duplicate: true, id: first.json.id });
    expect(await countOf("Ev002")).toBe(1);
  });

  it("carries edits, deletes, replies and reactions as relations", async () => {
    const events = [
      slackEvent("Ev010", {
        type: "message",
        subtype: "message_changed",
        channel: "C1",
        ts: "9.2",
        message: { user: "U1", text: "fixed", ts: "9.1" },
      }),
      slackEvent("Ev011", { type: "message", subtype: "message_deleted", channel: "C1", deleted_ts: "9.1", ts: "9.3" }),
      slackEvent("Ev012", { type: "message", channel: "C1", user: "U2", text: "re", ts: "9.4", thread_ts: "9.1" }),
      slackEvent("Ev013", {
        type: "reaction_added",
        user: "U2",
        reaction: "thumbsup",
        item: { type: "message", channel: "C1", ts: "9.1" },
        event_ts: "9.5",
      }),
    ];
    for (const body of events) expect((await h.post(SLACK, body, slackHeaders(body, h.clock.now))).status).toBe(200);
    const bySource = new Map((await h.stored()).map((s) => [s.message.source_message_id, s.message]));
    expect(bySource.get("Ev010")).toMatchObject({ text: "fixed", relation: { type: "edit", target_source_id: "9.1" } });
    expect(bySource.get("Ev011")).toMatchObject({ text: "", relation: { type: "delete", target_source_id: "9.1" } });
    expect(bySource.get("Ev012")).toMatchObject({ relation: { type: "reply", target_source_id: "9.1" } });
    expect(bySource.get("Ev013")).toMatchObject({
      relation: { type: "reaction", target_source_id: "9.1", reaction: "thumbsup" },
    });
  });

  it("takes Slack's documented slash-command request (form body) as a message", async () => {
    const body =
      "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
    const res = await h.post(SLACK, body, {
      ...slackHeaders(body, h.clock.now),
      "content-type": "application/x-www-form-urlencoded",
    });
    expect(res.status).toBe(200);
    const [stored] = (await h.stored()).filter((s) => s.message.source_message_id.startsWith("398738663015"));
    expect(stored!.message).toMatchObject({
      scope: { conversation: "G8PSS9T3V" },
      sender: { id: "U2CERLKJA", name: "roadrunner" },
      text: "/webhook-collect",
    });
  });

  it("answers Slack's url_verification with the challenge and publishes nothing", async () => {
    const before = (await h.stored()).length;
    const body = JSON.stringify({
      token: "x",
      challenge: "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P",
      type: "url_verification",
    });
    const res = await h.post(SLACK, body, slackHeaders(body, h.clock.now));
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ challenge: "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P" });
    expect((await h.stored()).length).toBe(before);
  });

  it("acknowledges what is not for us (a bot's echo, an event type not carried) without storing it", async () => {
    const before = (await h.stored()).length;
    for (const event of [
      { type: "message", channel: "C1", bot_id: "B1", text: "echo", ts: "9.9" },
      { type: "app_home_opened", user: "U1" },
    ]) {
      const body = slackEvent(`Ev-ignored-${event.type}`, event);
      const res = await h.post(SLACK, body, slackHeaders(body, h.clock.now));
      expect(res.status).toBe(200);
      expect(res.json).toMatchObject({ ok: true, ignored: expect.any(String) });
    }
    expect((await h.stored()).length).toBe(before);
  });

  it("stores a GitHub issue comment keyed by X-GitHub-Delivery and answers ping", async () => {
    const path = webhookPath("github", "acme", "octo");
    const body = JSON.stringify({
      action: "created",
      issue: { number: 7, id: 70 },
      comment: { id: 700, body: "LGTM", created_at: "2026-12-07T03:00:00Z" },
      repository: { full_name: "acme/widget" },
      sender: { id: 1, login: "octocat", type: "User" },
    });
    const headers = {
      "content-type": "application/json",
      "x-github-event": "issue_comment",
      "x-github-delivery": "72d3162e-cc78-11e3-81ab-4c9367dc0958",
      "x-hub-signature-256": signGitHub(GITHUB_SECRET, body),
    };
    expect((await h.post(path, body, headers)).status).toBe(200);
    const [stored] = (await h.stored()).filter((s) => s.message.channel_type === "github");
    expect(stored!.message).toMatchObject({
      scope: { conversation: "acme/widget#7" },
      sender: { id: "1", name: "octocat", is_bot: false },
      text: "LGTM",
    });
    const ping = JSON.stringify({ zen: "Keep it logically awesome.", hook_id: 1 });
    const pong = await h.post(path, ping, {
      ...headers,
      "x-github-event": "ping",
      "x-hub-signature-256": signGitHub(GITHUB_SECRET, ping),
    });
    expect(pong).toMatchObject({ status: 200, json: { ok: true, pong: true } });
  });

  it("stores a Standard Webhooks message keyed by webhook-id", async () => {
    const body = JSON.stringify({ conversation: "ticket-42", sender: { id: "agent-7" }, text: "status?" });
    const ts = Math.floor(h.clock.now.getTime() / 1000);
    const res = await h.post(webhookPath("webhook", "globex", "crm"), body, {
      "content-type": "application/json",
      ...standardWebhookHeaders([WEBHOOK_SECRET], "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W", ts, body),
    });
    expect(res.status).toBe(200);
    expect(await countOf("msg_2KWPBgLlAfxdpx2AI54pPJ85f4W")).toBe(1);
  });
});

describe("inbound: a clear 4xx for everything refused", () => {
  const event = slackEvent("Ev-bad", { type: "message", channel: "C1", user: "U1", text: "x", ts: "1.1" });

  it("401s a wrong signature, a tampered body and a stale timestamp, naming the reason", async () => {
    const wrong = await h.post(SLACK, event, {
      ...slackHeaders(event, h.clock.now),
      "x-slack-signature": `v0=${"0".repeat(64)}`,
    });
    expect(wrong).toMatchObject({ status: 401, json: { error: "signature_mismatch" } });
    const tampered = await h.post(SLACK, event.replace('"x"', '"y"'), slackHeaders(event, h.clock.now));
    expect(tampered).toMatchObject({ status: 401, json: { error: "signature_mismatch" } });
    const stale = await h.post(SLACK, event, slackHeaders(event, new Date(h.clock.now.getTime() - 6 * 60_000)));
    expect(stale).toMatchObject({ status: 401, json: { error: "timestamp_stale" } });
    expect(await countOf("Ev-bad")).toBe(0);
  });

  it("404s an unknown channel or account, 403s a disabled one, 415s a wrong media type", async () => {
    const headers = slackHeaders(event, h.clock.now);
    expect(await h.post(webhookPath("teams", "acme", "x"), event, headers)).toMatchObject({
      status: 404,
      json: { error: "unknown_channel" },
    });
    expect(await h.post(webhookPath("slack", "acme", "nope"), event, headers)).toMatchObject({
      status: 404,
      json: { error: "unknown_account" },
    });
    expect(await h.post(webhookPath("slack", "acme", "off"), event, headers)).toMatchObject({
      status: 403,
      json: { error: "account_disabled" },
    });
    const xml = await h.post(SLACK, event, { ...headers, "content-type": "text/xml" });
    expect(xml).toMatchObject({ status: 415, json: { error: "unsupported_media_type", message: /application\/json/ } });
    expect((await fetch(h.server.url + SLACK)).status).toBe(404);
  });

  it("400s a signed body that is not JSON or lacks a field, naming it", async () => {
    const notJson = "{not json";
    expect(await h.post(SLACK, notJson, slackHeaders(notJson, h.clock.now))).toMatchObject({
      status: 400,
      json: { error: "invalid_payload", message: /^\(body\): not JSON/ },
    });
    const noChannel = slackEvent("Ev-nochan", { type: "message", user: "U1", text: "x", ts: "1.1" });
    expect(await h.post(SLACK, noChannel, slackHeaders(noChannel, h.clock.now))).toMatchObject({
      status: 400,
      json: { message: /^event\.channel: required/ },
    });
    const tooLong = slackEvent("Ev-long", {
      type: "message",
      channel: "C1",
      user: "U1",
      text: "x".repeat(70_000),
      ts: "1.1",
    });
    expect(await h.post(SLACK, tooLong, slackHeaders(tooLong, h.clock.now))).toMatchObject({
      status: 422,
      json: { error: "invalid_message", message: /text/ },
    });
  });

  it("refuses a 10 MB body from its Content-Length, before reading it", async () => {
    const answer = await new Promise<{ status: number; bodyBytesSent: number }>((resolve, reject) => {
      const req = request(h.server.url + SLACK, {
        method: "POST",
        headers: { ...slackHeaders("", h.clock.now), "content-length": String(10 * 1024 * 1024) },
      });
      req.on("response", (res) => {
        res.resume();
        resolve({ status: res.statusCode ?? 0, bodyBytesSent: req.socket?.bytesWritten ?? 0 });
      });
      req.on("error", reject);
      req.flushHeaders(); // headers only: the answer must come without a byte of the body
    });
    expect(answer.status).toBe(413);
    expect(answer.bodyBytesSent).toBeLessThan(4096);
  });

  it("cuts off a body without Content-Length once it passes the limit while streaming", async () => {
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(h.server.url + SLACK, {
        method: "POST",
        headers: { ...slackHeaders("", h.clock.now), "transfer-encoding": "chunked" },
      });
      req.on("response", (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on("error", (err) => ((err as NodeJS.ErrnoException).code === "EPIPE" ? undefined : reject(err)));
      const chunk = Buffer.alloc(64 * 1024, 0x20);
      let sent = 0;
      const pump = () => {
        while (sent < 10 * 1024 * 1024 && req.write(chunk)) sent += chunk.length;
        if (sent < 10 * 1024 * 1024) req.once("drain", () => ((sent += chunk.length), pump()));
        else req.end();
      };
      pump();
    });
    expect(status).toBe(413);
  });
});

describe("inbound: nats-server down", () => {
  it("answers 503 within the deadline, then stores exactly one message once the platform retries", async () => {
    const body = slackEvent("Ev-outage", {
      type: "message",
      channel: "C1",
      user: "U1",
      text: "during outage",
      ts: "2.1",
    });
    await h.nats.kill();
    const down = await h.post(SLACK, body, slackHeaders(body, h.clock.now));
    expect(down.status).toBe(503);
    expect(down.json).toMatchObject({ error: expect.stringMatching(/^publish_/) });
    expect(down.ms).toBeLessThan(3_000);
    await h.nats.start();
    let retry = down;
    for (let i = 0; i < 40 && retry.status !== 200; i++) {
      await new Promise((r) => setTimeout(r, 250));
      retry = await h.post(SLACK, body, slackHeaders(body, h.clock.now, { "x-slack-retry-num": String(i + 1) }));
    }
    expect(retry.status).toBe(200);
    expect(await countOf("Ev-outage")).toBe(1);
  }, 30_000);
});
