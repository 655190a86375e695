import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { createInProcessBus } from "@tessera/bus";
import { gatewayStreamName, inboundSubject } from "@tessera/contract";
import { createCoordinator, type Coordinator } from "@tessera/coordinator";
import {
  createAdapterRegistry,
  ensureGatewayStreams,
  slackInbound,
  startInboundConsumer,
  startInboundServer,
  staticAccounts,
  webhookPath,
  type InboundConsumer,
  type InboundConsumerEvent,
  type InboundServer,
} from "@tessera/gateway";
import { startNatsServer, waitFor, type NatsServerHandle } from "@tessera/testkit";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ACCOUNTS, slackEvent, slackHeaders } from "./support/inbound-harness.js";

const WINDOW_MS = 1_000;
let nats: NatsServerHandle;
let nc: NatsConnection;
let server: InboundServer;
let coordinator: Coordinator;
let consumer: InboundConsumer;
const events: InboundConsumerEvent[] = [];
let failNext = 0;

beforeAll(async () => {
  nats = await startNatsServer();
  nc = await connect({ servers: nats.url });
  // A short duplicate window, so the test can post a retry after it has passed.
  await ensureGatewayStreams(await jetstreamManager(nc), { duplicateWindowMs: WINDOW_MS });
  server = await startInboundServer({
    jetstream: jetstream(nc),
    registry: createAdapterRegistry({ inbound: [slackInbound()] }),
    accounts: staticAccounts(ACCOUNTS),
  });
  coordinator = await createCoordinator({
    bus: createInProcessBus(),
    components: [
      {
        name: "chat",
        spec: {
          image: "example/chat:1",
          inputMode: "content-ref",
          egress: "none",
          timeouts: { wallClock: "10s", ackWait: "5s" },
        },
      },
    ],
    env: {},
    logger: pino({ level: "silent" }),
  });
  // How a monolith wires the coordinator to the inbound stream: one job per Message, keyed by the Message's id.
  consumer = await startInboundConsumer({
    nats: nc,
    random: () => 0,
    onEvent: (e) => events.push(e),
    async handle(message) {
      if (failNext > 0 && failNext--) throw new Error("store briefly unavailable");
      await coordinator.submit(
        "chat",
        { json: message },
        { idempotencyKey: message.id, metadata: { tenant: message.scope.tenant } },
      );
    },
  });
});

afterAll(async () => {
  await consumer?.stop();
  await coordinator?.close();
  await server?.close();
  await nc?.close();
  await nats?.stop();
});

const post = async (body: string, extra: Record<string, string> = {}) => {
  const res = await fetch(server.url + webhookPath("slack", "acme", "T1DC2JH3J"), {
    method: "POST",
    body,
    headers: slackHeaders(body, new Date(), extra),
  });
  return (await res.json()) as { ok: boolean; id: string; duplicate: boolean };
};

const handled = (id: string) => events.filter((e) => e.type === "handled" && e.message.id === id).length;

describe("the second idempotency layer: the coordinator's unique key on consuming the inbound stream", () => {
  it("makes a platform retry after the duplicate window one job", async () => {
    const body = slackEvent("Ev-late-retry", { type: "message", channel: "C1", user: "U1", text: "hi", ts: "5.1" });
    const first = await post(body);
    await new Promise((r) => setTimeout(r, WINDOW_MS + 1_000));
    const late = await post(body, { "x-slack-retry-num": "3" });
    // The first layer no longer catches it: the stream stored it twice, under the same Message id.
    expect(first).toMatchObject({ ok: true, duplicate: false });
    expect(late).toMatchObject({ ok: true, duplicate: false, id: first.id });
    const jsm = await jetstreamManager(nc);
    expect((await jsm.streams.info(gatewayStreamName("inbound"))).state.messages).toBe(2);
    await waitFor("both deliveries handled", () => handled(first.id) === 2);
    const jobs = await coordinator.listJobs({ component: "chat" });
    expect(jobs.items).toHaveLength(1);
  });

  it("redelivers a Message whose handler failed, and records it once", async () => {
    failNext = 1;
    const body = slackEvent("Ev-handler-fails", {
      type: "message",
      channel: "C1",
      user: "U1",
      text: "again",
      ts: "5.2",
    });
    const { id } = await post(body);
    await waitFor("handled after a retry", () => handled(id) === 1);
    expect(events.find((e) => e.type === "retry" && e.messageId === id)).toMatchObject({ attempt: 1 });
    expect((await coordinator.listJobs({ component: "chat" })).items).toHaveLength(2);
  });

  it("skips a Message of a schema version it does not read, without a job", async () => {
    const jobsBefore = (await coordinator.listJobs({ component: "chat" })).items.length;
    const future = { schema_version: 2, id: "msg_future", scope: { tenant: "acme", account: "T1DC2JH3J" } };
    await jetstream(nc).publish(
      inboundSubject({ channelType: "slack", tenant: "acme", account: "T1DC2JH3J" }),
      new TextEncoder().encode(JSON.stringify(future)),
    );
    await waitFor("skipped", () => events.some((e) => e.type === "skipped" && /schema_version/.test(e.detail)));
    expect((await coordinator.listJobs({ component: "chat" })).items).toHaveLength(jobsBefore);
  });
});
