/**
 * The repair's decisions against stated server answers (a stubbed JetStreamManager): what a SIGKILLed
 * nats-server 2.9 leaves cannot be produced on demand (server-crash-repair.test.ts provokes it against a
 * real server, where it happens on some kills only).
 */
import type { JetStreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { describe, expect, it, vi } from "vitest";
import { repairWorkQueueConsumer } from "../src/nats/consumer-repair.js";

interface StreamState {
  retention?: string;
  messages: number;
  first_seq: number;
  last_seq: number;
  deleted?: number[];
}
interface ConsumerState {
  created?: string;
  delivered: number;
  ack_floor: number;
  num_ack_pending: number;
  num_pending: number;
}

function server(
  stream: StreamState,
  consumer: ConsumerState | (() => ConsumerState),
  opts: { failAdds?: number } = {},
) {
  const acks: string[] = [];
  const calls: string[] = [];
  let failAdds = opts.failAdds ?? 0;
  let exists = true;
  const consumerInfo = () => {
    const c = typeof consumer === "function" ? consumer() : consumer;
    return {
      created: c.created ?? "t0",
      config: { durable_name: "D", ack_wait: 1 },
      delivered: { stream_seq: c.delivered },
      ack_floor: { stream_seq: c.ack_floor },
      num_ack_pending: c.num_ack_pending,
      num_pending: c.num_pending,
    };
  };
  const jsm = {
    streams: {
      info: async () => ({
        config: { retention: stream.retention ?? "workqueue" },
        state: { ...stream, deleted: stream.deleted ?? [] },
      }),
    },
    consumers: {
      info: async () => {
        if (!exists) throw new Error("consumer not found");
        return consumerInfo();
      },
      delete: async () => {
        calls.push("delete");
        exists = false;
        return true;
      },
      add: async (_stream: string, config: unknown) => {
        calls.push(`add ${JSON.stringify(config)}`);
        if (failAdds > 0) {
          failAdds -= 1;
          throw new Error("jetstream not ready");
        }
        exists = true;
        return consumerInfo();
      },
    },
  } as unknown as JetStreamManager;
  const nc = {
    publish: (subject: string) => acks.push(subject),
    flush: async () => undefined,
  } as unknown as NatsConnection;
  return { jsm, nc, acks, calls };
}

describe("repairWorkQueueConsumer", () => {
  it("acks only the sequences it may hold that are gone from the stream", async () => {
    // Pending 8-10 after the ack floor 7; 8 and 9 were removed (acked before the kill), 10 is still stored.
    const s = server(
      { messages: 1, first_seq: 10, last_seq: 10 },
      { delivered: 10, ack_floor: 7, num_ack_pending: 3, num_pending: 0 },
    );
    const outcome = await repairWorkQueueConsumer(s.nc, s.jsm, "S", "D", { mayRecreate: true });
    expect(outcome).toEqual({ acksForRemoved: 2, recreated: false });
    expect(s.acks).toEqual(["$JS.ACK.S.D.1.8.0.0.0", "$JS.ACK.S.D.1.9.0.0.0"]);
    expect(s.calls).toEqual([]);
  });

  it("counts interior deletes as gone, and leaves every stored sequence alone", async () => {
    const s = server(
      { messages: 3, first_seq: 5, last_seq: 9, deleted: [6, 8] },
      { delivered: 9, ack_floor: 4, num_ack_pending: 5, num_pending: 0 },
    );
    await repairWorkQueueConsumer(s.nc, s.jsm, "S", "D", { mayRecreate: false });
    expect(s.acks.map((a) => Number(a.split(".")[5]))).toEqual([6, 8]);
  });

  it("does nothing when nothing is pending, or on a stream that is not a work queue", async () => {
    const idle = server(
      { messages: 0, first_seq: 11, last_seq: 10 },
      { delivered: 10, ack_floor: 10, num_ack_pending: 0, num_pending: 0 },
    );
    expect(await repairWorkQueueConsumer(idle.nc, idle.jsm, "S", "D", { mayRecreate: true })).toEqual({
      acksForRemoved: 0,
      recreated: false,
    });
    const limits = server(
      { retention: "limits", messages: 0, first_seq: 11, last_seq: 10 },
      { delivered: 10, ack_floor: 7, num_ack_pending: 3, num_pending: 0 },
    );
    expect(await repairWorkQueueConsumer(limits.nc, limits.jsm, "S", "D", { mayRecreate: true })).toEqual({
      acksForRemoved: 0,
      recreated: false,
    });
    expect([...idle.acks, ...limits.acks, ...idle.calls, ...limits.calls]).toEqual([]);
  });

  it("recreates a consumer whose stream's sequence went backwards, with its configuration, retrying the create", async () => {
    const s = server(
      { messages: 5, first_seq: 1, last_seq: 5 },
      { delivered: 600, ack_floor: 600, num_ack_pending: 0, num_pending: 0 },
      { failAdds: 2 },
    );
    const outcome = await repairWorkQueueConsumer(s.nc, s.jsm, "S", "D", { mayRecreate: true });
    expect(outcome).toEqual({ acksForRemoved: 0, recreated: true });
    expect(s.calls).toEqual(["delete", ...Array(3).fill(`add {"durable_name":"D","ack_wait":1}`)]);
    expect(s.acks).toEqual([]);
  });

  it("does not recreate where it may not, nor a consumer recreated by someone else since it looked", async () => {
    const bindOnly = server(
      { messages: 5, first_seq: 1, last_seq: 5 },
      { delivered: 600, ack_floor: 600, num_ack_pending: 0, num_pending: 0 },
    );
    expect(await repairWorkQueueConsumer(bindOnly.nc, bindOnly.jsm, "S", "D", { mayRecreate: false })).toEqual({
      acksForRemoved: 0,
      recreated: false,
    });
    let reads = 0;
    // The second read (right before the delete) sees a consumer created after the first one.
    const raced = server({ messages: 5, first_seq: 1, last_seq: 5 }, () => ({
      created: ++reads === 1 ? "t0" : "t1",
      delivered: 600,
      ack_floor: 600,
      num_ack_pending: 0,
      num_pending: 0,
    }));
    expect(await repairWorkQueueConsumer(raced.nc, raced.jsm, "S", "D", { mayRecreate: true })).toEqual({
      acksForRemoved: 0,
      recreated: false,
    });
    expect([...bindOnly.calls, ...raced.calls]).toEqual([]);
  });

  it("says so when it deleted the consumer and could not create it again", async () => {
    const s = server(
      { messages: 5, first_seq: 1, last_seq: 5 },
      { delivered: 600, ack_floor: 600, num_ack_pending: 0, num_pending: 0 },
      { failAdds: 100 },
    );
    vi.useFakeTimers();
    try {
      const failed = expect(repairWorkQueueConsumer(s.nc, s.jsm, "S", "D", { mayRecreate: true })).rejects.toThrow(
        /deleted the job consumer D of S to recreate it, and could not create it again: jetstream not ready/,
      );
      await vi.runAllTimersAsync();
      await failed;
    } finally {
      vi.useRealTimers();
    }
  });
});
