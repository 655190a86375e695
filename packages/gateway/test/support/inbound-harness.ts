import { jetstream, jetstreamManager, type JetStreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { decodeMessage, gatewayStreamName, type Message } from "@tessera/contract";
import {
  createAdapterRegistry,
  ensureGatewayStreams,
  githubInbound,
  signSlack,
  slackInbound,
  standardWebhooksInbound,
  startInboundServer,
  staticAccounts,
  type GatewayAccount,
  type InboundServer,
} from "@tessera/gateway";
import { startNatsServer, type NatsServerHandle } from "@tessera/testkit";

export const SLACK_SECRET = "8f742231b10e8888abcd99yyyzzz85a5";
export const GITHUB_SECRET = "It's a Secret to Everybody";
export const WEBHOOK_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

export const ACCOUNTS: GatewayAccount[] = [
  { channelType: "slack", tenant: "acme", account: "T1DC2JH3J", signingSecrets: [SLACK_SECRET] },
  { channelType: "slack", tenant: "acme", account: "off", signingSecrets: [SLACK_SECRET], disabled: true },
  { channelType: "github", tenant: "acme", account: "octo", signingSecrets: [GITHUB_SECRET] },
  { channelType: "webhook", tenant: "globex", account: "crm", signingSecrets: [WEBHOOK_SECRET] },
];

/** The gateway's JSON answer, loosely typed: tests assert on its fields. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Answer = { status: number; json: any; ms: number };

export interface InboundHarness {
  nats: NatsServerHandle;
  nc: NatsConnection;
  jsm: JetStreamManager;
  server: InboundServer;
  /** The clock the gateway reads; tests move it. */
  clock: { now: Date };
  post(path: string, body: string, headers: Record<string, string>): Promise<Answer>;
  stored(): Promise<{ message: Message; msgId: string | undefined }[]>;
  close(): Promise<void>;
}

export async function startInboundHarness(): Promise<InboundHarness> {
  const nats = await startNatsServer();
  const nc = await connect({ servers: nats.url, maxReconnectAttempts: -1, reconnectTimeWait: 250 });
  const jsm = await jetstreamManager(nc);
  await ensureGatewayStreams(jsm, { duplicateWindowMs: 60_000 });
  const clock = { now: new Date() };
  const server = await startInboundServer({
    jetstream: jetstream(nc),
    registry: createAdapterRegistry({ inbound: [slackInbound(), githubInbound(), standardWebhooksInbound()] }),
    accounts: staticAccounts(ACCOUNTS),
    now: () => clock.now,
  });
  return {
    nats,
    nc,
    jsm,
    server,
    clock,
    async post(path, body, headers) {
      const started = performance.now();
      const res = await fetch(server.url + path, { method: "POST", body, headers });
      const text = await res.text();
      let json: unknown = text;
      try {
        json = JSON.parse(text);
      } catch {
        /* a handshake may answer plain text */
      }
      return { status: res.status, json, ms: performance.now() - started };
    },
    async stored() {
      const out: { message: Message; msgId: string | undefined }[] = [];
      const info = await jsm.streams.info(gatewayStreamName("inbound"));
      for (let seq = info.state.first_seq; seq <= info.state.last_seq && info.state.messages > 0; seq++) {
        const m = await jsm.streams.getMessage(gatewayStreamName("inbound"), { seq }).catch(() => null);
        if (m === null) continue;
        const decoded = decodeMessage(m.data);
        if (!decoded.ok) throw decoded.error;
        out.push({ message: decoded.value, msgId: m.header?.get("Nats-Msg-Id") });
      }
      return out;
    },
    async close() {
      await server.close();
      await nc.close();
      await nats.stop();
    },
  };
}

/** Headers Slack would send for `body` at the harness clock's time. */
export function slackHeaders(body: string, now: Date, extra: Record<string, string> = {}): Record<string, string> {
  const ts = Math.floor(now.getTime() / 1000);
  return {
    "content-type": "application/json",
    "x-slack-request-timestamp": String(ts),
    "x-slack-signature": signSlack(SLACK_SECRET, ts, body),
    ...extra,
  };
}

export function slackEvent(eventId: string, event: Record<string, unknown>): string {
  return JSON.stringify({
    token: "unused",
    team_id: "T1DC2JH3J",
    api_app_id: "A0001",
    type: "event_callback",
    event_id: eventId,
    event_time: 1765000000,
    event,
  });
}
