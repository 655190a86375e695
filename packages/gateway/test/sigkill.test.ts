/**
 * Issue 20's fault run: the gateway process SIGKILLed mid-request. Whether it dies while the body is still
 * arriving (nothing stored) or after the stream stored the message but before the 200 went out (the platform
 * sees a dropped connection), the platform's retry of the same signed webhook, to a restarted gateway, ends as
 * exactly one message on the inbound stream.
 */
import { request } from "node:http";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { jetstreamManager, type JetStreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { decodeMessage, gatewayStreamName } from "@tessera/contract";
import { ensureGatewayStreams, standardWebhookHeaders, webhookPath } from "@tessera/gateway";
import { spawnTsProcess, startNatsServer, type NatsServerHandle, type TsProcess } from "@tessera/testkit";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { WEBHOOK_SECRET } from "./support/inbound-harness.js";

const here = dirname(fileURLToPath(import.meta.url));
const PATH = webhookPath("webhook", "globex", "crm");
let nats: NatsServerHandle;
let nc: NatsConnection;
let jsm: JetStreamManager;
const children: TsProcess[] = [];

beforeAll(async () => {
  nats = await startNatsServer();
  nc = await connect({ servers: nats.url });
  jsm = await jetstreamManager(nc);
  await ensureGatewayStreams(jsm);
});
afterEach(async () => {
  await Promise.all(children.splice(0).map((c) => c.kill()));
});
afterAll(async () => {
  await nc?.close();
  await nats?.stop();
});

async function startGateway(port: number, holdAfterPublish: boolean): Promise<{ child: TsProcess; url: URL }> {
  const child = spawnTsProcess(join(here, "support", "gateway-process.ts"), {
    cwd: join(here, ".."),
    env: {
      NATS_URL: nats.url,
      PORT: String(port),
      SECRET: WEBHOOK_SECRET,
      HOLD_AFTER_PUBLISH: holdAfterPublish ? "1" : "0",
    },
  });
  children.push(child);
  const ready = await child.line("the gateway process to listen", (l) => l["event"] === "ready", 30_000);
  return { child, url: new URL(String(ready["url"])) };
}

function signed(id: string): { body: string; headers: Record<string, string> } {
  const body = JSON.stringify({ conversation: "ticket-9", sender: { id: "agent-1" }, text: `kill ${id}` });
  const headers = {
    "content-type": "application/json",
    "content-length": String(Buffer.byteLength(body)),
    ...standardWebhookHeaders([WEBHOOK_SECRET], id, Math.floor(Date.now() / 1000), body),
  };
  return { body, headers };
}

/** Starts a POST, writing the first `bytes` of the body (all of it when undefined); settles with the status or the error. */
function startPost(url: URL, post: { body: string; headers: Record<string, string> }, bytes?: number) {
  let settle!: (r: { status?: number; error?: string }) => void;
  const outcome = new Promise<{ status?: number; error?: string }>((resolve) => (settle = resolve));
  const req = request(
    { host: url.hostname, port: url.port, path: PATH, method: "POST", headers: post.headers },
    (res) => {
      res.resume();
      res.on("end", () => settle({ status: res.statusCode }));
    },
  );
  req.on("error", (err: NodeJS.ErrnoException) => settle({ error: err.code ?? err.message }));
  if (bytes === undefined) req.end(post.body);
  else req.write(post.body.slice(0, bytes));
  return outcome;
}

/** The platform's retry schedule, shortened: the same signed request until a 2xx. */
async function retryUntilStored(url: URL, post: { body: string; headers: Record<string, string> }): Promise<number> {
  for (let attempt = 0; attempt < 40; attempt++) {
    const { status } = await startPost(url, post);
    if (status !== undefined && status >= 200 && status < 300) return status;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error("the retries were never acknowledged");
}

async function storedWithSourceId(id: string): Promise<number> {
  const stream = gatewayStreamName("inbound");
  const info = await jsm.streams.info(stream);
  let count = 0;
  for (let seq = info.state.first_seq; info.state.messages > 0 && seq <= info.state.last_seq; seq++) {
    const m = await jsm.streams.getMessage(stream, { seq }).catch(() => null);
    if (m === null) continue;
    const decoded = decodeMessage(m.data);
    if (decoded.ok && decoded.value.source_message_id === id) count += 1;
  }
  return count;
}

describe("the gateway process SIGKILLed mid-request", () => {
  it("after the stream stored the message, before the answer: the retry is one message", async () => {
    const first = await startGateway(0, true);
    const post = signed("msg_killed_after_publish");
    const answer = startPost(first.url, post);
    await first.child.line("the message to be stored", (l) => l["event"] === "published");
    expect(await first.child.kill()).toMatchObject({ signal: "SIGKILL" });
    expect(await answer).toMatchObject({ error: expect.stringMatching(/ECONNRESET|socket hang up/) });
    expect(await storedWithSourceId("msg_killed_after_publish")).toBe(1);

    const restarted = await startGateway(Number(first.url.port), false);
    expect(await retryUntilStored(restarted.url, post)).toBe(200);
    expect(await storedWithSourceId("msg_killed_after_publish")).toBe(1);
  }, 60_000);

  it("while the body is still arriving: nothing stored, and the retry is one message", async () => {
    const first = await startGateway(0, false);
    const post = signed("msg_killed_mid_body");
    const answer = startPost(first.url, post, 20);
    // The request line, headers and part of the body are on the gateway's socket when it dies.
    await new Promise((r) => setTimeout(r, 300));
    expect(await first.child.kill()).toMatchObject({ signal: "SIGKILL" });
    expect(await answer).toMatchObject({ error: expect.stringMatching(/ECONNRESET|socket hang up/) });
    expect(await storedWithSourceId("msg_killed_mid_body")).toBe(0);

    const restarted = await startGateway(Number(first.url.port), false);
    expect(await retryUntilStored(restarted.url, post)).toBe(200);
    expect(await storedWithSourceId("msg_killed_mid_body")).toBe(1);
  }, 60_000);
});
