/**
 * Issue 20 item 5, the enricher: attachments fetched through the egress guard (a byte limit, a timeout, every
 * redirect checked), stored content-addressed, and the Message republished to the enriched stream with the
 * storage key and sha256 — or with the attachment's error code. Hostile sources are the cases: a huge body, a
 * redirect to a private address or the metadata service, a slow drip, a 404; none of them drops the Message.
 */
import { createServer, type Server } from "node:http";
import { jetstream, jetstreamManager, type JetStreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import {
  decodeMessage,
  encodeMessage,
  enrichedSubject,
  gatewayStreamName,
  inboundSubject,
  type Message,
} from "@tessera/contract";
import { createEgress, type Egress } from "@tessera/egress";
import {
  createAdapterRegistry,
  ensureGatewayStreams,
  messageId,
  slackInbound,
  staticAccounts,
  natsAttachmentStore,
  s3AttachmentStore,
  sha256Hex,
  startAttachmentEnricher,
  type AttachmentEnricher,
  type AttachmentStore,
  type EnricherEvent,
} from "@tessera/gateway";
import { startNatsServer, waitFor, type NatsServerHandle } from "@tessera/testkit";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { startLocalS3 } from "./support/s3-server.js";

const ALPHA = new TextEncoder().encode("alpha: the bytes of a small attached file\n");
const SCOPE = { channelType: "webhook", tenant: "globex", account: "crm" };

let nats: NatsServerHandle;
let nc: NatsConnection;
let jsm: JetStreamManager;
let origin: Server;
let base: string;
let egress: Egress;
let store: AttachmentStore;
const requests: string[] = [];
let flakyCalls = 0;
const running: AttachmentEnricher[] = [];

/** A file server that misbehaves on purpose, on 127.0.0.1. */
function startOrigin(): Promise<Server> {
  const server = createServer((req, res) => {
    const path = req.url ?? "/";
    requests.push(path);
    if (path === "/file/alpha.txt" || path === "/file/alpha-copy.txt") {
      res.writeHead(200, { "content-type": "text/plain", "content-length": ALPHA.byteLength });
      res.end(ALPHA);
    } else if (path === "/slack/F123/report.txt") {
      const authorized = req.headers.authorization === "Bearer xoxb-bot-token";
      res.writeHead(authorized ? 200 : 403, { "content-type": "text/plain" });
      res.end(authorized ? "slack file" : "");
    } else if (path === "/huge") {
      // No Content-Length: the cap must stop it while reading.
      res.writeHead(200, { "content-type": "application/octet-stream" });
      const chunk = Buffer.alloc(64 * 1024, 7);
      const pump = () => {
        while (!res.destroyed && res.write(chunk));
        if (!res.destroyed) res.once("drain", pump);
      };
      pump();
    } else if (path === "/huge-announced") {
      res.writeHead(200, { "content-length": String(50 * 1024 * 1024) });
      res.write(Buffer.alloc(1024));
    } else if (path === "/to-private") {
      res.writeHead(302, { location: "http://10.0.0.7/secret.pdf" });
      res.end();
    } else if (path === "/to-metadata") {
      res.writeHead(302, { location: "http://169.254.169.254/latest/meta-data/iam/" });
      res.end();
    } else if (path === "/drip") {
      res.writeHead(200, { "content-type": "text/plain" });
      const timer = setInterval(() => (res.destroyed ? clearInterval(timer) : res.write("x")), 200);
      res.on("close", () => clearInterval(timer));
    } else if (path === "/flaky") {
      flakyCalls++;
      if (flakyCalls === 1) {
        res.writeHead(503);
        res.end();
      } else {
        res.writeHead(200, { "content-type": "image/png" });
        res.end("png-ish");
      }
    } else {
      res.writeHead(404);
      res.end();
    }
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(server)));
}

beforeAll(async () => {
  [nats, origin] = await Promise.all([startNatsServer(), startOrigin()]);
  const address = origin.address();
  base = `http://127.0.0.1:${typeof address === "object" && address !== null ? address.port : 0}`;
  nc = await connect({ servers: nats.url });
  jsm = await jetstreamManager(nc);
  await ensureGatewayStreams(jsm);
  // The origin is on loopback, which the guard denies unless allowed by CIDR; 10/8 and 169.254/16 stay denied.
  egress = createEgress({ allow: { cidrs: ["127.0.0.1/32"] } });
  store = await natsAttachmentStore({ jetstream: jetstream(nc), ttlMs: 60 * 60 * 1000 });
});
afterEach(async () => {
  await Promise.all(running.splice(0).map((e) => e.stop()));
});
afterAll(async () => {
  await egress?.close();
  await nc?.close();
  await nats?.stop();
  origin?.closeAllConnections();
  await new Promise((resolve) => origin?.close(resolve));
});

function inbound(source: string, attachments: Message["attachments"]): Message {
  return {
    schema_version: 1,
    id: messageId(SCOPE.channelType, SCOPE.tenant, SCOPE.account, source),
    scope: { tenant: SCOPE.tenant, account: SCOPE.account, conversation: "ticket-7" },
    channel_type: SCOPE.channelType,
    source_message_id: source,
    sender: { id: "agent-1" },
    text: "see attached",
    attachments,
    received_at: new Date().toISOString(),
    attributes: {},
  };
}

async function publishInbound(message: Message): Promise<void> {
  await jetstream(nc).publish(inboundSubject(SCOPE), encodeMessage(message), { msgID: message.id });
}

async function enrichedCopies(id: string): Promise<Message[]> {
  const found: Message[] = [];
  const info = await jsm.streams.info(gatewayStreamName("enriched"));
  for (let seq = info.state.first_seq; seq <= info.state.last_seq && info.state.messages > 0; seq++) {
    const m = await jsm.streams.getMessage(gatewayStreamName("enriched"), { seq }).catch(() => undefined);
    if (m === undefined || m === null) continue;
    const decoded = decodeMessage(m.data);
    if (!decoded.ok || decoded.value.id !== id) continue;
    expect(m.subject).toBe(enrichedSubject({ channelType: decoded.value.channel_type, ...decoded.value.scope }));
    found.push(decoded.value);
  }
  return found;
}

async function enriched(id: string): Promise<Message> {
  return waitFor(`the enriched copy of ${id}`, async () => (await enrichedCopies(id))[0], 20_000, 50);
}

describe("attachment enricher", () => {
  it("stores good files content-addressed and records every hostile source as an error code, keeping the message", async () => {
    const events: EnricherEvent[] = [];
    running.push(
      await startAttachmentEnricher({
        nats: nc,
        store,
        egress,
        maxBytes: 1024 * 1024,
        timeoutMs: 1_500,
        onEvent: (e) => events.push(e),
        sleep: () => Promise.resolve(),
      }),
    );
    const message = inbound("evt-hostile", [
      { name: "alpha.txt", source_url: `${base}/file/alpha.txt` },
      { name: "huge.bin", source_url: `${base}/huge` },
      { name: "announced.bin", source_url: `${base}/huge-announced` },
      { name: "private.pdf", source_url: `${base}/to-private` },
      { name: "metadata", source_url: `${base}/to-metadata` },
      { name: "drip.txt", source_url: `${base}/drip` },
      { name: "gone.txt", source_url: `${base}/gone` },
      { name: "flaky.png", source_url: `${base}/flaky` },
      { name: "too-big-says-platform", source_url: `${base}/file/never`, byte_size: 2 * 1024 * 1024 },
      { name: "inline, nothing to fetch", content_type: "text/plain" },
    ]);
    const started = Date.now();
    await publishInbound(message);
    const out = await enriched(message.id);
    // The slow drip is cut at the timeout, not left to run.
    expect(Date.now() - started).toBeLessThan(10_000);

    const [alpha, huge, announced, toPrivate, toMetadata, drip, gone, flaky, tooBig, inline] = out.attachments;
    expect(alpha).toEqual({
      name: "alpha.txt",
      source_url: `${base}/file/alpha.txt`,
      content_type: "text/plain",
      byte_size: ALPHA.byteLength,
      sha256: sha256Hex(ALPHA),
      storage_key: `sha256/${sha256Hex(ALPHA)}`,
    });
    expect(await store.get(alpha!.storage_key!)).toEqual(ALPHA);
    expect(huge).toMatchObject({ error_code: "fetch_too_large" });
    expect(announced).toMatchObject({ error_code: "fetch_too_large" });
    expect(toPrivate).toMatchObject({ error_code: "egress_denied" });
    expect(toMetadata).toMatchObject({ error_code: "egress_denied" });
    expect(drip).toMatchObject({ error_code: "fetch_timeout" });
    expect(gone).toMatchObject({ error_code: "fetch_http_404" });
    expect(flaky).toMatchObject({ byte_size: 7, content_type: "image/png", sha256: sha256Hex(Buffer.from("png-ish")) });
    expect(tooBig).toMatchObject({ error_code: "fetch_too_large" });
    expect(inline).toEqual({ name: "inline, nothing to fetch", content_type: "text/plain" });
    for (const failed of [huge, announced, toPrivate, toMetadata, drip, gone, tooBig])
      expect(failed).not.toHaveProperty("storage_key");
    // The rest of the Message is untouched.
    expect({ ...out, attachments: [] }).toEqual({ ...message, attachments: [] });
    // A size the platform announced over the limit is not even requested.
    expect(requests).not.toContain("/file/never");
    expect(flakyCalls).toBe(2);
    expect(events.filter((e) => e.type === "fetch_failed")).toHaveLength(7);
  });

  it("deduplicates by sha256 across messages, and a redelivered message is republished once", async () => {
    const events: EnricherEvent[] = [];
    running.push(await startAttachmentEnricher({ nats: nc, store, egress, onEvent: (e) => events.push(e) }));
    const first = inbound("evt-dedup-1", [{ name: "alpha-copy.txt", source_url: `${base}/file/alpha-copy.txt` }]);
    const second = inbound("evt-dedup-2", [{ name: "again.txt", source_url: `${base}/file/alpha.txt` }]);
    await publishInbound(first);
    const a = await enriched(first.id);
    await publishInbound(second);
    const b = await enriched(second.id);
    expect(a.attachments[0]!.storage_key).toBe(b.attachments[0]!.storage_key);
    const stored = events.filter((e) => e.type === "stored");
    expect(stored.map((e) => (e as { deduplicated: boolean }).deduplicated)).toEqual([true, true]);

    // The platform's retry after the inbound window is stored again (same Message id); the enriched stream
    // keeps one copy.
    await jetstream(nc).publish(inboundSubject(SCOPE), encodeMessage(first), { msgID: `${first.id}-late-retry` });
    await waitFor("the retry to be handled", () => events.filter((e) => e.type === "published").length >= 3);
    const published = events.filter((e) => e.type === "published") as Array<{ duplicate: boolean }>;
    expect(published.map((p) => p.duplicate)).toEqual([false, false, true]);
    expect(await enrichedCopies(first.id)).toHaveLength(1);
  });

  it("stores to an S3-compatible bucket the same way (s3rver)", async () => {
    const s3 = await startLocalS3(["gw"]);
    try {
      const s3Store = s3AttachmentStore({ client: s3.client, bucket: "gw", prefix: "attachments/", ttlMs: 3_600_000 });
      running.push(await startAttachmentEnricher({ nats: nc, store: s3Store, egress }));
      const message = inbound("evt-s3", [
        { name: "alpha.txt", source_url: `${base}/file/alpha.txt` },
        { name: "private.pdf", source_url: `${base}/to-private` },
      ]);
      await publishInbound(message);
      const out = await enriched(message.id);
      expect(out.attachments[0]).toMatchObject({ storage_key: `sha256/${sha256Hex(ALPHA)}`, sha256: sha256Hex(ALPHA) });
      expect(out.attachments[1]).toMatchObject({ error_code: "egress_denied" });
      expect(await s3Store.get(out.attachments[0]!.storage_key!)).toEqual(ALPHA);
      await Promise.all(running.splice(0).map((e) => e.stop()));
    } finally {
      await s3.stop();
    }
  });

  it("fetches a platform's private files with the credentials its adapter names (Slack's bot token)", async () => {
    const slack = { channelType: "slack", tenant: "acme", account: "T1" };
    const registry = createAdapterRegistry({ inbound: [slackInbound()] });
    const accounts = staticAccounts([{ ...slack, signingSecrets: ["s"], credentials: { botToken: "xoxb-bot-token" } }]);
    running.push(await startAttachmentEnricher({ nats: nc, store, egress, registry, accounts }));
    const message: Message = {
      ...inbound("evt-slack-file", [{ name: "report.txt", source_url: `${base}/slack/F123/report.txt` }]),
      id: messageId("slack", "acme", "T1", "evt-slack-file"),
      scope: { tenant: "acme", account: "T1", conversation: "C1" },
      channel_type: "slack",
    };
    await jetstream(nc).publish(inboundSubject(slack), encodeMessage(message), { msgID: message.id });
    const out = await enriched(message.id);
    expect(out.attachments[0]).toMatchObject({ sha256: sha256Hex(Buffer.from("slack file")), byte_size: 10 });
    // Without the adapter's headers the same file is refused by the platform.
    await Promise.all(running.splice(0).map((e) => e.stop()));
    running.push(await startAttachmentEnricher({ nats: nc, store, egress }));
    const again = {
      ...message,
      id: messageId("slack", "acme", "T1", "evt-slack-file-2"),
      source_message_id: "evt-slack-file-2",
    };
    await jetstream(nc).publish(inboundSubject(slack), encodeMessage(again), { msgID: again.id });
    expect((await enriched(again.id)).attachments[0]).toMatchObject({ error_code: "fetch_http_403" });
  });

  it("retries a message whose store fails, and after storeAttempts publishes it with attachment_store_failed", async () => {
    const events: EnricherEvent[] = [];
    let puts = 0;
    const broken: AttachmentStore = {
      ...store,
      put: () => {
        puts++;
        return Promise.reject(new Error("bucket unavailable"));
      },
    };
    running.push(
      await startAttachmentEnricher({
        nats: nc,
        store: broken,
        egress,
        storeAttempts: 2,
        onEvent: (e) => events.push(e),
      }),
    );
    const message = inbound("evt-store-down", [
      { name: "alpha.txt", source_url: `${base}/file/alpha.txt` },
      { name: "gone.txt", source_url: `${base}/gone` },
    ]);
    await publishInbound(message);
    const out = await enriched(message.id);
    expect(out.attachments[0]).toMatchObject({ error_code: "attachment_store_failed" });
    expect(out.attachments[0]).not.toHaveProperty("storage_key");
    expect(out.attachments[1]).toMatchObject({ error_code: "fetch_http_404" });
    expect(puts).toBe(2);
    expect(events.filter((e) => e.type === "retry")).toHaveLength(1);
  });
});
