import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import {
  decodeDeliveryRecord,
  deliverySubject,
  gatewayDeadLetterSubject,
  gatewayStreamName,
  outboundSubject,
  type DeliveryRecord,
  type SendCommand,
} from "@tessera/contract";
import { createEgress, type Egress } from "@tessera/egress";
import {
  createAdapterRegistry,
  ensureGatewayStreams,
  publishSendCommand,
  slackOutbound,
  startSenderPool,
  staticAccounts,
  verifyStandardWebhook,
  webhookSender,
  type GatewayAccount,
  type SenderEvent,
  type SenderPool,
} from "@tessera/gateway";
import { freePort, startNatsServer, waitFor, type NatsServerHandle } from "@tessera/testkit";
import { createServer, type Server } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FakeSlack } from "./support/fake-slack.js";

const TOKEN = "xoxb-test-token";
let nats: NatsServerHandle;
let nc: NatsConnection;
let js: JetStreamClient;
let jsm: JetStreamManager;
let slack: FakeSlack;
let egress: Egress;
let pool: SenderPool;
let receiver: Server;
let receiverUrl = "";
const received: { verified: boolean; body: Record<string, unknown> }[] = [];
const RECEIVER_SECRET = "whsec_" + Buffer.from("the receiver's key, 32 bytes....").toString("base64");
const events: SenderEvent[] = [];
let seq = 0;

async function accounts(): Promise<GatewayAccount[]> {
  return [
    { channelType: "slack", tenant: "acme", account: "W1", signingSecrets: [], credentials: { botToken: TOKEN } },
    {
      channelType: "slack",
      tenant: "acme",
      account: "slow",
      signingSecrets: [],
      credentials: { botToken: TOKEN },
      rateLimit: { perSecond: 4, burst: 1 },
    },
    {
      channelType: "webhook",
      tenant: "acme",
      account: "down",
      signingSecrets: [],
      credentials: { signingSecret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" },
      // Nothing listens there: every attempt is a network error.
      settings: { url: `http://127.0.0.1:${await freePort()}/hook` },
    },
    {
      channelType: "webhook",
      tenant: "acme",
      account: "crm",
      signingSecrets: [],
      credentials: { signingSecret: RECEIVER_SECRET },
      settings: { url: receiverUrl },
    },
  ];
}

beforeAll(async () => {
  nats = await startNatsServer();
  nc = await connect({ servers: nats.url });
  js = jetstream(nc);
  jsm = await jetstreamManager(nc);
  await ensureGatewayStreams(jsm, { duplicateWindowMs: 60_000 });
  slack = await new FakeSlack(TOKEN).start();
  // A receiver of the generic webhook channel, verifying the Standard Webhooks signature as a customer would.
  receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks);
      const headers = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, String(v)]));
      const verified = verifyStandardWebhook({ headers, body, secrets: [RECEIVER_SECRET], now: new Date() }).ok;
      received.push({ verified, body: JSON.parse(body.toString("utf8")) as Record<string, unknown> });
      res.writeHead(verified ? 200 : 401, { "content-type": "application/json" });
      res.end(JSON.stringify({ id: "ext-1" }));
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as { port: number }).port}/hook`;
  // The fake Slack is on loopback, which the egress guard denies unless a test allows it by name.
  egress = createEgress({ allow: { cidrs: ["127.0.0.1/32"] }, timeoutMs: 5_000 });
  pool = await startSenderPool({
    nats: nc,
    registry: createAdapterRegistry({ outbound: [slackOutbound({ apiBase: `${slack.url}/api/` }), webhookSender()] }),
    accounts: staticAccounts(await accounts()),
    egress,
    maxAttempts: 3,
    ackWaitMs: 10_000,
    random: () => 0,
    onEvent: (e) => events.push(e),
  });
});

afterAll(async () => {
  await pool?.stop();
  await egress?.close();
  await slack?.stop();
  receiver?.closeAllConnections();
  await new Promise((resolve) => receiver?.close(resolve));
  await nc?.close();
  await nats?.stop();
});

function command(over: Partial<SendCommand> & { conversation?: string } = {}): SendCommand {
  const { conversation, ...rest } = over;
  return {
    schema_version: 1,
    id: `cmd-${++seq}`,
    scope: { tenant: "acme", account: "W1" },
    channel_type: "slack",
    destination: { conversation: conversation ?? "C_OK" },
    text: "hello",
    ...rest,
  };
}

async function submit(c: SendCommand): Promise<void> {
  await publishSendCommand(js, c);
}

const finished = (id: string) =>
  events.find(
    (e) => (e.type === "delivered" && e.command.id === id) || (e.type === "dead_lettered" && e.commandId === id),
  );

async function settled(id: string): Promise<SenderEvent> {
  await waitFor(`command ${id} settled`, () => finished(id) !== undefined, 20_000);
  return finished(id)!;
}

async function record(subject: string): Promise<DeliveryRecord> {
  const stored = await jsm.streams.getMessage(gatewayStreamName("deliveries"), { last_by_subj: subject });
  const decoded = decodeDeliveryRecord(stored!.data);
  if (!decoded.ok) throw decoded.error;
  return decoded.value;
}

const outboundLeft = async () => (await jsm.streams.info(gatewayStreamName("outbound"))).state.messages;

describe("sender pool routing against a fake Slack API and a real nats-server", () => {
  it("2xx: sends through chat.postMessage, records the delivery, removes the command", async () => {
    const c = command({ destination: { conversation: "C_OK", thread: "1.0" } });
    await submit(c);
    expect(await settled(c.id)).toMatchObject({ type: "delivered", attempt: 1 });
    const [call] = slack.calls.filter((x) => x.body["text"] === "hello" && x.body["thread_ts"] === "1.0");
    expect(call).toMatchObject({ method: "chat.postMessage", authorization: `Bearer ${TOKEN}` });
    expect(await record(deliverySubject("slack", c.id))).toMatchObject({
      status: "delivered",
      attempt: 1,
      http_status: 200,
      platform_message_id: expect.stringMatching(/^1765000000\./),
    });
    await waitFor("outbound queue empty", async () => (await outboundLeft()) === 0);
  });

  it("edits through chat.update when the command has an edit target", async () => {
    const c = command({ edit_target: "1765000000.000001", text: "edited" });
    await submit(c);
    expect(await settled(c.id)).toMatchObject({ type: "delivered", platformMessageId: "1765000000.000001" });
    expect(slack.calls.find((x) => x.method === "chat.update")?.body).toMatchObject({
      ts: "1765000000.000001",
      text: "edited",
    });
  });

  it("429: naks for the Retry-After, then delivers", async () => {
    slack.script("C_429", [{ status: 429, retryAfter: 1 }]);
    const c = command({ conversation: "C_429" });
    await submit(c);
    expect(await settled(c.id)).toMatchObject({ type: "delivered", attempt: 2 });
    expect(events.find((e) => e.type === "retry" && e.commandId === c.id)).toMatchObject({
      delayMs: 1000,
      reason: "http_429",
    });
    const [first, second] = slack.callsTo("C_429");
    expect(second!.atMs - first!.atMs).toBeGreaterThanOrEqual(950);
  });

  it("5xx and Slack's retryable errors: nak with jitter, then deliver", async () => {
    slack.script("C_500", [{ status: 500 }, { slackError: "internal_error" }]);
    const c = command({ conversation: "C_500" });
    await submit(c);
    expect(await settled(c.id)).toMatchObject({ type: "delivered", attempt: 3 });
    const reasons = events
      .filter((e) => e.type === "retry" && e.commandId === c.id)
      .map((e) => e.type === "retry" && e.reason);
    expect(reasons).toEqual(["http_500", "slack_internal_error"]);
  });

  it("other 4xx and Slack's permanent errors: term and a dead-letter record holding the command", async () => {
    slack.script("C_GONE", [{ slackError: "channel_not_found" }]);
    slack.script("C_400", [{ status: 400 }]);
    const gone = command({ conversation: "C_GONE" });
    const bad = command({ conversation: "C_400" });
    await submit(gone);
    await submit(bad);
    expect(await settled(gone.id)).toMatchObject({
      type: "dead_lettered",
      reasonCode: "slack_channel_not_found",
      attempt: 1,
    });
    expect(await settled(bad.id)).toMatchObject({ type: "dead_lettered", reasonCode: "http_400" });
    const letter = await record(gatewayDeadLetterSubject({ channelType: "slack", tenant: "acme", account: "W1" }));
    expect(letter).toMatchObject({ status: "dead_lettered", command: { channel_type: "slack" } });
    await waitFor("outbound queue empty", async () => (await outboundLeft()) === 0);
  });

  it("unknown channel: term and a dead letter, without calling anything", async () => {
    const c = command({ channel_type: "teams" });
    const before = slack.calls.length;
    await submit(c);
    expect(await settled(c.id)).toMatchObject({ type: "dead_lettered", reasonCode: "unknown_channel" });
    expect(slack.calls.length).toBe(before);
  });

  it("network errors: nak with jitter until max attempts, then a dead letter", async () => {
    const c = command({ channel_type: "webhook", scope: { tenant: "acme", account: "down" } });
    await submit(c);
    expect(await settled(c.id)).toMatchObject({ type: "dead_lettered", reasonCode: "max_attempts", attempt: 3 });
    const retries = events.filter((e) => e.type === "retry" && e.commandId === c.id);
    expect(retries.map((e) => e.type === "retry" && e.reason)).toEqual(["fetch_network", "fetch_network"]);
  });

  it("local rate limit: a burst on one account is spread at its rate, each command denied at most once", async () => {
    const burst = Array.from({ length: 5 }, () =>
      command({ scope: { tenant: "acme", account: "slow" }, conversation: "C_SLOW" }),
    );
    for (const c of burst) await submit(c);
    for (const c of burst) expect(await settled(c.id)).toMatchObject({ type: "delivered" });
    const times = slack
      .callsTo("C_SLOW")
      .map((c) => c.atMs)
      .sort((a, b) => a - b);
    expect(times).toHaveLength(5);
    // 4 per second with a burst of 1: five sends take at least a second.
    expect(times[4]! - times[0]!).toBeGreaterThanOrEqual(950);
    for (const c of burst) {
      const denials = events.filter(
        (e) => e.type === "retry" && e.commandId === c.id && e.reason === "local rate limit",
      );
      expect(denials.length).toBeLessThanOrEqual(1);
    }
  });

  it("the generic webhook sender posts the command signed with Standard Webhooks", async () => {
    const c = command({ channel_type: "webhook", scope: { tenant: "acme", account: "crm" }, conversation: "ticket-9" });
    await submit(c);
    expect(await settled(c.id)).toMatchObject({ type: "delivered", platformMessageId: "ext-1" });
    expect(received.at(-1)).toMatchObject({
      verified: true,
      body: { type: "message.send", id: c.id, destination: { conversation: "ticket-9" }, text: "hello" },
    });
  });

  it("terms an envelope it cannot read and says so", async () => {
    await js.publish(
      outboundSubject({ channelType: "slack", tenant: "acme", account: "W1" }),
      new TextEncoder().encode(JSON.stringify({ schema_version: 2, id: "cmd-future" })),
    );
    await waitFor("invalid reported", () =>
      events.some((e) => e.type === "invalid" && /schema_version/.test(e.detail)),
    );
    await waitFor("outbound queue empty", async () => (await outboundLeft()) === 0);
  });

  it("a command published twice under one id is sent once", async () => {
    const c = command({ conversation: "C_ONCE" });
    expect(await publishSendCommand(js, c)).toMatchObject({ duplicate: false });
    expect(await publishSendCommand(js, c)).toMatchObject({ duplicate: true });
    await settled(c.id);
    await new Promise((r) => setTimeout(r, 300));
    expect(slack.callsTo("C_ONCE")).toHaveLength(1);
  });

  it("reaches the platform only through the egress guard: a guard without the loopback allowance denies it", async () => {
    const denyingEgress = createEgress();
    const localEvents: SenderEvent[] = [];
    await pool.stop();
    const strict = await startSenderPool({
      nats: nc,
      registry: createAdapterRegistry({ outbound: [slackOutbound({ apiBase: `${slack.url}/api/` })] }),
      accounts: staticAccounts(await accounts()),
      egress: denyingEgress,
      random: () => 0,
      onEvent: (e) => localEvents.push(e),
    });
    try {
      const c = command({ conversation: "C_DENIED" });
      await submit(c);
      await waitFor("dead letter", () => localEvents.some((e) => e.type === "dead_lettered" && e.commandId === c.id));
      expect(localEvents.find((e) => e.type === "dead_lettered")).toMatchObject({ reasonCode: "egress_denied" });
      expect(slack.callsTo("C_DENIED")).toHaveLength(0);
    } finally {
      await strict.stop();
      await denyingEgress.close();
    }
  });
});
