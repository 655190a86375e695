import { DiscardPolicy, jetstreamManager, JetStreamApiError, RetentionPolicy, StorageType } from "@nats-io/jetstream";
import { connect, TimeoutError, type NatsConnection } from "@nats-io/transport-node";
import { startNatsServer, type NatsServerHandle } from "@tessera/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isNoResponders } from "../src/nats/nats-errors.js";
import { PipelinedPublisher } from "../src/nats/pipelined-publisher.js";

let nats: NatsServerHandle;
let nc: NatsConnection;
const utf8 = new TextEncoder();

beforeAll(async () => {
  nats = await startNatsServer();
  nc = await connect({ servers: nats.url });
  const jsm = await jetstreamManager(nc);
  await jsm.streams.add({
    name: "PIPE",
    subjects: ["pipe.>"],
    retention: RetentionPolicy.Limits,
    storage: StorageType.File,
    max_msgs_per_subject: 1,
    max_msgs: 5,
  });
});

afterAll(async () => {
  await nc?.close();
  await nats?.stop();
});

describe("PipelinedPublisher (real nats-server)", () => {
  it("stores every publish of a burst, in order, with the stream's sequence", async () => {
    const publisher = new PipelinedPublisher(nc);
    const acks = await Promise.all(
      Array.from({ length: 2_000 }, (_, i) => publisher.publish(`pipe.burst.${i}`, utf8.encode(String(i)))),
    );
    expect(acks.every((a) => a.stream === "PIPE" && !a.duplicate)).toBe(true);
    const seqs = acks.map((a) => a.seq);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    expect(new Set(seqs).size).toBe(2_000);
    publisher.close();
  });

  it("reports a publish with a message id seen in the duplicate window as a duplicate of the first", async () => {
    const publisher = new PipelinedPublisher(nc);
    const first = await publisher.publish("pipe.dedup", utf8.encode("a"), "same-id");
    const second = await publisher.publish("pipe.dedup", utf8.encode("b"), "same-id");
    expect(second).toEqual({ stream: "PIPE", seq: first.seq, duplicate: true });
    publisher.close();
  });

  it("fails with no responders when no stream captures the subject", async () => {
    const publisher = new PipelinedPublisher(nc);
    const err = await publisher.publish("nowhere.at.all", utf8.encode("x")).catch((e: unknown) => e);
    expect(isNoResponders(err)).toBe(true);
    publisher.close();
  });

  it("passes on the stream's refusal as a JetStreamApiError", async () => {
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({
      name: "PIPE_FULL",
      subjects: ["full.>"],
      storage: StorageType.File,
      max_msgs: 1,
      discard: DiscardPolicy.New,
    });
    const publisher = new PipelinedPublisher(nc);
    await publisher.publish("full.a", utf8.encode("1"));
    const err = await publisher.publish("full.b", utf8.encode("2")).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(JetStreamApiError);
    expect((err as Error).message).toMatch(/maximum messages exceeded/);
    publisher.close();
  });

  it("times out a publish nobody acknowledges", async () => {
    // A plain subscriber that never replies: the request has a responder, so only the deadline ends it.
    const silent = nc.subscribe("silent.subject");
    const publisher = new PipelinedPublisher(nc, 300);
    const started = Date.now();
    await expect(publisher.publish("silent.subject", utf8.encode("x"))).rejects.toBeInstanceOf(TimeoutError);
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    silent.unsubscribe();
    publisher.close();
  });

  it("does not time out an ack that arrived while the event loop was busy past the deadline", async () => {
    const publisher = new PipelinedPublisher(nc, 300);
    const pending = publisher.publish("pipe.busy", utf8.encode("x"));
    await new Promise((r) => setImmediate(r)); // the publish is on the wire
    const until = Date.now() + 800;
    while (Date.now() < until) {
      // a synchronous stretch longer than the deadline: the ack waits unread in the socket
    }
    await expect(pending).resolves.toMatchObject({ stream: "PIPE", duplicate: false });
    publisher.close();
  });

  it("fails what is still waiting when closed", async () => {
    const silent = nc.subscribe("silent.close");
    const publisher = new PipelinedPublisher(nc);
    const pending = publisher.publish("silent.close", utf8.encode("x"));
    await new Promise((r) => setImmediate(r));
    publisher.close();
    await expect(pending).rejects.toThrow(/connection closed before JetStream acknowledged/);
    silent.unsubscribe();
  });
});
